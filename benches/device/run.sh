#!/usr/bin/env bash
# Runs on a lent GPU machine what benches/device/pack.sh built here, in one call of the
# device tool (command `benches/device/run.sh`, carry [".devbin", ".gl"], timeout_s ~540):
#
#   1. the kernel tests (kernels/tests/stages.rs) on the GPU's Vulkan driver, WGSL and SPIR-V
#      builds, with CI=true so that a missing adapter fails instead of skipping;
#   2. the device's copy bandwidth, measured with torch (bytes read + written per second of a
#      4 GiB device-to-device copy): the ceiling the log-mel bound is computed from;
#   3. benches/run_gpu_logmel.sh for each build (the autotuned kernel, row `ser`, and every
#      pinned FFT variant, rows `ser pinned radix4+signal...`, 512 x 3 s
#      and HOURS of audio, torchaudio on CUDA in the same run), BANDWIDTH_GBS = the measured
#      figure;
#   4. a per-kernel profile of the log-mel benchmark (CubeCL's profiler log, summarised by
#      benches/device/kernel_profile.py), one run per build;
#   5. benches/run_train_cnn_lstm.sh (burn wgpu vs PyTorch CUDA), when it was packed.
#
# Results and logs go to $OUT (the device tool's folder; benches/.work/device elsewhere),
# named after the GPU; commit the tables to benches/results/ from there. Each step goes on
# after a failure of the one before; the exit status says whether any failed.
#   HOURS=10 REPS=5 STEPS=5 benches/device/run.sh
#   BENCH_ARGS="--padded off --in-place both" benches/device/run.sh   # fewer kernel rows
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-benches/.work/device}"
mkdir -p "$out"
log="$out/device.log"
exec > >(tee -a "$log") 2>&1
failed=()
step() { echo; echo "== $*"; }

step "machine"
cat .devbin/COMMIT 2>/dev/null
# The results name the commit the binaries were built from (this copy has no git history).
BENCH_COMMIT="$(head -c 12 .devbin/COMMIT 2>/dev/null)$(grep -q uncommitted .devbin/COMMIT 2>/dev/null && echo -dirty)"
export BENCH_COMMIT="${BENCH_COMMIT:-?}"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
tag=$(echo "$gpu" | tr 'A-Z' 'a-z' | sed 's/nvidia //; s/[^a-z0-9]\+/_/g; s/_$//')
echo "tag: $tag"

# The Vulkan loader from .gl/, and NVIDIA's ICD where the loader does not find it by itself.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"

bin=/tmp/devbin
mkdir -p "$bin"
for f in .devbin/*.xz; do xz -dc "$f" > "$bin/$(basename "$f" .xz)"; chmod +x "$bin/$(basename "$f" .xz)"; done
ls "$bin"

step "kernel tests"
for v in wgsl spirv; do
  [ -x "$bin/stages_$v" ] || continue
  echo "-- stages ($v)"
  (cd kernels && CI=true "$bin/stages_$v" --test-threads 1) || failed+=("stages_$v")
done

step "copy bandwidth"
bw=$(python3 - <<'PY'
import torch
x = torch.rand(1 << 30, device="cuda")  # 4 GiB of f32, random (not zeros)
y = torch.empty_like(x)
for _ in range(3):
    y.copy_(x)
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
times = []
for _ in range(10):
    start.record(); y.copy_(x); end.record(); end.synchronize()
    times.append(start.elapsed_time(end) / 1e3)
times.sort()
print(f"{2 * x.numel() * 4 / times[len(times) // 2] / 1e9:.0f}")
PY
) || { failed+=(bandwidth); bw=""; }
echo "device-to-device copy: ${bw:-?} GB/s (read + written, median of 10)"
echo "$gpu: copy bandwidth ${bw:-?} GB/s" > "$out/bandwidth_$tag.txt"

step "log-mel benchmark"
for v in wgsl spirv; do
  [ -x "$bin/gpu_logmel_$v" ] || continue
  echo "-- gpu_logmel ($v)"
  if BENCH_BIN="$bin/gpu_logmel_$v" PYTHON=python3 BANDWIDTH_GBS="$bw" HOURS="${HOURS:-10}" \
      REPS="${REPS:-5}" BENCH_ARGS="--peer-clips 512 ${BENCH_ARGS:-}" benches/run_gpu_logmel.sh; then
    cp benches/results/gpu_logmel_wgpu.md "$out/gpu_logmel_${tag}_$v.md"
  else
    failed+=("gpu_logmel_$v")
  fi
done

step "per-kernel profile"
# CubeCL's own profiler: one line per launch (it waits for each kernel, hence a run of its
# own, after the timed ones) and every compiled kernel's source, kept beside the table.
for v in wgsl spirv; do
  [ -x "$bin/gpu_logmel_$v" ] || continue
  plog="$out/cubecl_${tag}_$v.log"
  if CUBECL_DEBUG_LOG="$plog" timeout 120 "$bin/gpu_logmel_$v" --bench --device wgpu \
      --reps 3 --hours "${PROFILE_HOURS:-1}" --kernels-only > /dev/null &&
      python3 benches/device/kernel_profile.py "$plog" > "$out/kernel_profile_${tag}_$v.md"; then
    cat "$out/kernel_profile_${tag}_$v.md"
    xz -T0 -f "$plog"
  else
    failed+=("profile_$v")
  fi
done

step "training benchmark"
if [ -x "$bin/train_cnn_lstm_wgsl" ]; then
  if DEVICE=wgpu TORCH_DEVICE=cuda BENCH_BIN="$bin/train_cnn_lstm_wgsl" PYTHON=python3 \
      REPS="${REPS:-5}" STEPS="${STEPS:-5}" benches/run_train_cnn_lstm.sh; then
    cp benches/results/train_cnn_lstm_wgpu.md "$out/train_cnn_lstm_${tag}_wgsl.md"
  else
    failed+=(train_cnn_lstm)
  fi
fi

step "done"
ls -l "$out"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all steps passed"
