#!/usr/bin/env bash
# Regenerates tests/golden/ssl/ (tiny random wav2vec 2.0, HuBERT and WavLM checkpoints as
# Hugging Face folders) and tests/golden/ssl_golden.h5 (their hidden states, by transformers)
# with pinned versions in a private venv. Nothing is downloaded from the Hugging Face hub.
# Usage: tests/golden/make_ssl_golden.sh          (needs python3 with venv + pip, network for pip)
#        PYTHON=benches/.venv/bin/python tests/golden/make_ssl_golden.sh   (a Python that has them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
else
  venv="${SER_SSL_GOLDEN_VENV:-$here/../../target/ssl-golden-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r "$here/requirements_ssl.txt"
  fi
  py="$venv/bin/python"
fi
"$py" "$here/make_ssl_golden.py"
