#!/usr/bin/env bash
# The main job on the built-in synthetic corpus: set up, build, write the two synthetic
# corpora, inspect one, extract log-mel / MFCC / functionals into an HDF5 cache, and read it
# back with h5py. Everything lands in data/ (ignored by git). Re-running is quick: finished
# work is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --locked -q -p ser-cli
ser="${CARGO_TARGET_DIR:-target}/release/ser"

"$ser" synth --out data/synth
"$ser" corpus inspect data/synth/cremad --show-skipped 5
set +e
"$ser" extract \
  --corpus data/synth/ravdess \
  --corpus data/synth/cremad \
  --features experiments/features/logmel_16k.toml \
  --out data/cache/synth_logmel16k.h5
status=$?
set -e
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
"$ser" cache info data/cache/synth_logmel16k.h5
.venv/bin/python scripts/read_cache.py data/cache/synth_logmel16k.h5
