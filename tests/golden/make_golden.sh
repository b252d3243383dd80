#!/usr/bin/env bash
# Regenerates tests/golden/librosa_golden.h5 (librosa, SciPy) and metrics_golden.json
# (scikit-learn) with pinned versions in a private venv.
# Usage: tests/golden/make_golden.sh        (needs python3 with venv + pip, and network for pip)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SER_GOLDEN_VENV:-$here/../../target/golden-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi
"$venv/bin/python" "$here/make_golden.py"
"$venv/bin/python" "$here/make_metrics_golden.py"
