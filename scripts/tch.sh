#!/usr/bin/env bash
# ser on burn's LibTorch backend (PyTorch's own CPU and CUDA kernels), built against the libtorch
# inside a pip-installed torch 2.9.0 (LIBTORCH_USE_PYTORCH=1: nothing is downloaded at build
# time), and a check that it trains as flex does. Not part of CI: it needs torch from pip
# (benches/.venv, about 7 GB with its CUDA libraries).
#
#   scripts/tch.sh                  # makes benches/.venv if needed, builds, runs the tests
#   SER_TCH_BUILD_ONLY=1 scripts/tch.sh
#
# The build goes to $CARGO_TARGET_DIR_TCH (default ~/.cache/ser-target-tch), apart from the
# default build, whose features differ. The binary finds libtorch through LD_LIBRARY_PATH:
#   export LD_LIBRARY_PATH=$(benches/.venv/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
#   ~/.cache/ser-target-tch/release/ser train experiments/cnn_lstm.toml --device tch   # tch-cuda:N on a GPU
#
# Then one experiment (a small CNN-LSTM on the tiny synthetic corpora, no dropout, no
# augmentation, 4 epochs) trained with --device flex and --device tch from the same seed. Initial
# weights are drawn on the CPU whatever the device, so both start from one model and see the
# same batches; every epoch's mean training loss must agree within 2 % (relative; the kernels
# round differently, and the gap grows with the steps), and fall every epoch on both.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/venv.sh
VIRTUAL_ENV="$(cd "$(dirname "$py")/.." && pwd)"
export VIRTUAL_ENV PATH="$VIRTUAL_ENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1
torch_lib=$(python -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_TCH:-$HOME/.cache/ser-target-tch}"
cargo build --release -p ser-cli --no-default-features --features tch
ser="$CARGO_TARGET_DIR/release/ser"
echo "built $ser (libtorch from $torch_lib)" >&2
[ -n "${SER_TCH_BUILD_ONLY:-}" ] && exit 0
# The libtorch paths of training (crates/models/src/torch_graph.rs: conv blocks,
# convolutions and LSTMs through libtorch's kernels and autograd) against burn's own layers
# on the same device: values and gradients within 1e-4.
cargo test --release -p ser-models -p ser-cli --no-default-features --features ser-cli/tch \
  --lib --bins -- torch_graph recurrent

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
"$ser" synth --tiny --seed 3 --out "$w/synth" >&2
"$ser" extract --device cpu --corpus "$w/synth/ravdess" --corpus "$w/synth/cremad" \
  --features experiments/features/logmel_16k.toml --out "$w/cache.h5" >&2
cat > "$w/tch_check.toml" <<EOF
name = "tch_check"
[data]
cache = "$w/cache.h5"
frames = ["logmel"]
[split]
test_speakers = 0.25
val_speakers = 0.25
[segment]
frames = 120
[model]
kind = "cnn_lstm"
[model.cnn]
channels = [8, 16]
dropout = 0.0
[model.lstm]
hidden = 32
dropout = 0.0
[model.head]
hidden = [32]
dropout = 0.0
[train]
epochs = 4
batch_size = 16
lr = 0.003
warmup_epochs = 0
early_stopping = 0
EOF
for d in flex tch; do
  "$ser" train "$w/tch_check.toml" --device "$d" --runs "$w/$d" >&2
done
python - "$w/flex/tch_check/metrics.jsonl" "$w/tch/tch_check/metrics.jsonl" <<'PY'
import json, sys
flex, tch = ([json.loads(l)["train_loss"] for l in open(p)] for p in sys.argv[1:])
print("epoch  flex loss  tch loss  relative difference")
worst = 0.0
for i, (a, b) in enumerate(zip(flex, tch), 1):
    rel = abs(a - b) / abs(a)
    worst = max(worst, rel) if rel == rel else float("inf")
    print(f"{i:5d}  {a:9.5f}  {b:8.5f}  {rel:.2e}")
assert len(flex) == len(tch) == 4, (flex, tch)
assert worst <= 0.02, f"tch's loss curve is {worst:.3f} away from flex's (tolerance 0.02)"
for name, c in (("flex", flex), ("tch", tch)):
    assert all(b < a for a, b in zip(c, c[1:])), f"{name}'s loss did not fall every epoch: {c}"
print(f"tch matches flex within {worst:.2e} (tolerance 2e-2); the loss falls on both")
PY
