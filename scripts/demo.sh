#!/usr/bin/env bash
# The main job on the built-in synthetic corpus: set up, build, write the two synthetic
# corpora, inspect one, extract log-mel / MFCC / functionals into an HDF5 cache, read it back
# with h5py, then train the SVM baseline and the CNN-LSTM (about 15 minutes on 2 CPU cores)
# and print their speaker-independent test figures. Everything lands in data/ and runs/
# (ignored by git). Re-running is quick: finished work is reused (a finished run is
# re-evaluated, an interrupted one resumed).
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

# `ser run` starts a run, or resumes (a finished one: re-evaluates) the one that exists.
"$ser" run experiments/svm.toml
"$ser" run experiments/cross_corpus_synth.toml   # train x test corpus matrix, audit, report.md
"$ser" run experiments/cnn_lstm.toml

# The trained CNN-LSTM as one ONNX file (waveform in, probabilities out) with its model card,
# scored by ser itself (tract) on the CREMA-D-layout clips.
"$ser" export runs/synth_cnn_lstm --with-frontend --out models/synth_cnn_lstm.onnx
"$ser" predict models/synth_cnn_lstm.onnx data/synth/cremad/AudioWAV \
  --out models/synth_cnn_lstm_cremad.csv
