#!/usr/bin/env bash
# Runs the CNN-LSTM training / inference benchmark of ser (burn) beside the same model in
# PyTorch, in one run, and writes benches/results/train_cnn_lstm_<device>.md.
#
#   benches/run_train_cnn_lstm.sh                    # CPU: burn flex vs PyTorch, 2 threads each
#   DEVICE=wgpu TORCH_DEVICE=cuda benches/run_train_cnn_lstm.sh   # GPU: burn wgpu vs PyTorch CUDA
#   BENCH_BIN=path/to/train_cnn_lstm PYTHON=python3 ...          # prebuilt binary, a Python with torch
#   TCH_BENCH_BIN=path/to/train_cnn_lstm (built with --features tch)  # prebuilt tch binary
#     (`cargo build --release --bench train_cnn_lstm` is much quicker than `cargo bench`, whose
#     profile rebuilds every dependency)
#   TCH=1 benches/run_train_cnn_lstm.sh              # also burn's LibTorch backend (`tch`, or
#                                                    # `tch-cuda` with TORCH_DEVICE=cuda), built
#                                                    # against benches/.venv's torch as scripts/tch.sh
#   REPS=5 STEPS=5 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/venv.sh
device="${DEVICE:-flex}"
torch_device="${TORCH_DEVICE:-cpu}"
threads="${THREADS:-2}"
reps="${REPS:-5}"
steps="${STEPS:-5}"
out="$work/train_$device.jsonl"
bench=(cargo bench -q -p ser-benches --bench train_cnn_lstm --)
[ -n "${BENCH_BIN:-}" ] && bench=("$BENCH_BIN" --bench)
# Both tools get the same number of CPU threads (rayon for burn's flex backend).
RAYON_NUM_THREADS="$threads" "${bench[@]}" --device "$device" --reps "$reps" --steps "$steps" \
  --onnx "$PWD/$work/cnn_lstm.onnx" 2> >(grep -v XDG_RUNTIME_DIR >&2) | tee "$out"
if [ -n "${TCH:-}" ]; then
  # Same bench on the LibTorch backend: its own target folder (other features), libtorch from the
  # venv's torch (the same build of PyTorch as the peer below).
  tch_env=(env VIRTUAL_ENV="$(cd "$(dirname "$py")/.." && pwd)" LIBTORCH_USE_PYTORCH=1
    PATH="$(cd "$(dirname "$py")" && pwd):$PATH"
    LD_LIBRARY_PATH="$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')"
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR_TCH:-$HOME/.cache/ser-target-tch}")
  [ "$torch_device" = cuda ] && tch_device=tch-cuda || tch_device=tch
  tch_bench=("${tch_env[@]}" cargo bench -q -p ser-benches --no-default-features --features tch
    --bench train_cnn_lstm --)
  [ -n "${TCH_BENCH_BIN:-}" ] && tch_bench=("${tch_env[@]}" "$TCH_BENCH_BIN" --bench)
  OMP_NUM_THREADS="$threads" "${tch_bench[@]}" --device "$tch_device" --reps "$reps" --steps "$steps" \
    | tee -a "$out"
fi
OMP_NUM_THREADS="$threads" "$py" benches/peers/train_cnn_lstm.py --device "$torch_device" --threads "$threads" \
  --reps "$reps" --steps "$steps" | tee -a "$out"
# PyTorch again with mimalloc preloaded, built from the C sources cargo fetched for ser's own
# allocator (the same version): ser's binaries use mimalloc (the tch build for libtorch's
# tensors too), so this row tells the allocator's share from the kernels'. Skipped where
# those sources or gcc are missing (a prebuilt binary on a bare GPU machine).
mi_version=$(grep -A1 '^name = "libmimalloc-sys"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
mi=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libmimalloc-sys-$mi_version"/c_src/mimalloc/v3 \
  2>/dev/null | head -1 || true)
if [ -n "$mi" ] && gcc -O2 -shared -fPIC -DNDEBUG -DMI_MALLOC_OVERRIDE -I "$mi/include" "$mi/src/static.c" \
    -o "$work/libmimalloc.so" -lpthread 2>/dev/null; then
  LD_PRELOAD="$PWD/$work/libmimalloc.so" OMP_NUM_THREADS="$threads" "$py" benches/peers/train_cnn_lstm.py \
    --device "$torch_device" --threads "$threads" --reps "$reps" --steps "$steps" --allocator mimalloc \
    | tee -a "$out"
else
  echo "no mimalloc sources or gcc: PyTorch + mimalloc row skipped" >&2
fi
# The trained bench model as `ser export` writes it, in onnxruntime (CPU), same threads.
"$py" benches/peers/onnx_infer.py "$work/cnn_lstm.onnx" --threads "$threads" --reps "$reps" \
  --steps "$steps" | tee -a "$out"
"$py" - "$out" > "benches/results/train_cnn_lstm_$device.md" <<'PY'
import json, sys, subprocess, datetime, os
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
commit = os.environ.get("BENCH_COMMIT", "?")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# CNN-LSTM training and inference: ser (burn) vs PyTorch\n")
print(f"Measured {datetime.date.today()} at commit `{commit}`; host {os.cpu_count()} cores ({cpu}).")
print("Model: input [32, 1, 64, 301]; Conv2d 3x3 + BatchNorm + ReLU + 2x2 max pool, 16/32/64/64 channels;")
print("BiLSTM 128 per direction over the 18 pooled steps; mean over time; linear to 8 classes; AdamW.")
print("Training step = forward + backward + AdamW + reading the loss; inference = forward + reading the logits.")
print("Reproduce: `benches/run_train_cnn_lstm.sh` (see its header).\n")
print("Modes: train and inference at batch 32; latency_b1 = one 3 s clip per forward pass.\n")
print("vs PyTorch: PyTorch as installed (glibc malloc); vs PyTorch + mimalloc: the same with the")
print("allocator ser's binaries use preloaded.\n")
print("| tool | mode | device | samples per s | ms per clip | vs PyTorch | vs PyTorch + mimalloc | vs onnxruntime |")
print("|---|---|---|---|---|---|---|---|")
torch_rows = [r for r in rows if r["tool"].startswith("pytorch")]
ref = {r["mode"]: r["samples_per_second"] for r in torch_rows if "mimalloc" not in r["tool"]}
ref_mi = {r["mode"]: r["samples_per_second"] for r in torch_rows if "mimalloc" in r["tool"]}
ort = {r["mode"]: r["samples_per_second"] for r in rows if r["tool"].startswith("onnxruntime")}
ratio = lambda v, d, m: f"{v / d[m]:.2f}x" if m in d else "-"  # noqa: E731
for r in rows:
    v, m = r["samples_per_second"], r["mode"]
    ms = f"{r['ms_per_clip']:.1f}" if "ms_per_clip" in r else "-"
    print(f"| {r['tool']} | {m} | {r['device']} | {v:,.1f} | {ms} | {ratio(v, ref, m)} "
          f"| {ratio(v, ref_mi, m)} | {ratio(v, ort, m)} |")
PY
cat "benches/results/train_cnn_lstm_$device.md"
