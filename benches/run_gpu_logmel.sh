#!/usr/bin/env bash
# Runs ser's device log-mel benchmark (CubeCL kernels) beside burn-signal and torchaudio on
# the same device, in one run, and writes the table to benches/results/gpu_logmel_<device>.md.
#
#   benches/run_gpu_logmel.sh                 # wgpu (a GPU's Vulkan driver, else lavapipe)
#   DEVICE=cuda FEATURES=cuda benches/run_gpu_logmel.sh
#   HOURS=1 REPS=3 benches/run_gpu_logmel.sh  # a smaller large workload
#   BANDWIDTH_GBS=3350 benches/run_gpu_logmel.sh   # the device's memory bandwidth, for the bound
#   BENCH_ARGS="--peer-clips 512" benches/run_gpu_logmel.sh   # burn-signal clips per launch
#   BENCH_ARGS="--radix 4,16" benches/run_gpu_logmel.sh   # FFT radices timed (default: all)
#   BENCH_BIN=path/to/gpu_logmel PYTHON=python3 benches/run_gpu_logmel.sh
#       # a prebuilt bench binary (`cargo bench --no-run`) and a Python that already has torch
#       # and torchaudio: for a GPU machine with no compiler cache or no network
#
# torchaudio runs on CUDA when torch sees a GPU, else on the CPU; the table names each row's
# device, and says when the "GPU" path ran on lavapipe (Mesa's software Vulkan on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/venv.sh
device="${DEVICE:-wgpu}"
reps="${REPS:-5}"
hours="${HOURS:-10}"
out="$work/gpu_$device.jsonl"
features=()
[ -n "${FEATURES:-}" ] && features=(--features "$FEATURES")
bench=(cargo bench -q -p ser-benches "${features[@]}" --bench gpu_logmel --)
[ -n "${BENCH_BIN:-}" ] && bench=("$BENCH_BIN" --bench)
# shellcheck disable=SC2086 # BENCH_ARGS is a list of extra flags (e.g. --peer-clips 512)
"${bench[@]}" --device "$device" --reps "$reps" --hours "$hours" ${BENCH_ARGS:-} \
  --write-workload "$PWD/$work/workload.f32" 2> >(grep -v XDG_RUNTIME_DIR >&2) | tee "$out"
"$py" benches/peers/gpu_logmel.py "$work/workload.f32" --reps "$reps" --hours "$hours" | tee -a "$out"
"$py" - "$out" "${BANDWIDTH_GBS:-}" > "benches/results/gpu_logmel_$device.md" <<'PY'
import json, sys, subprocess, datetime, os
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
bw = float(sys.argv[2]) if sys.argv[2] else None
commit = os.environ.get("BENCH_COMMIT", "?")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ser_dev = next(r["device"] for r in rows if r["tool"] == "ser")
software = any(k in ser_dev for k in ("llvmpipe", "lavapipe", "swiftshader"))
print("# Device log-mel throughput: ser's CubeCL kernels vs burn-signal vs torchaudio\n")
print(f"Measured {datetime.date.today()} at commit `{commit}`; host {os.cpu_count()} cores ({cpu}).")
print(f"ser device: **{ser_dev}**" + (" — a software Vulkan renderer on the CPU, not a GPU: these are CPU-runtime figures, and the GPU rows of the issue's targets stay empty." if software else "."))
print("Settings: n_fft 512, 400-sample Hann window, hop 160, 64 Slaney mels, zero padding, top_db 80.")
print("`kernels`: signal already on the device, features left there; `end_to_end`: host clips in, host features out.")
print("Reproduce: `benches/run_gpu_logmel.sh` (see its header for CUDA and options).\n")
for w in dict.fromkeys(r["workload"] for r in rows):
    ws = [r for r in rows if r["workload"] == w]
    ta = {r["mode"]: r["audio_seconds_per_second"] for r in ws if r["tool"].startswith("torchaudio")}
    print(f"## workload {w} ({ws[0]['audio_seconds']:,.0f} s of audio)\n")
    print("| tool | mode | device | audio-s per s | vs torchaudio (same mode) |")
    print("|---|---|---|---|---|")
    for r in ws:
        v = r["audio_seconds_per_second"]
        rel = f"{v / ta[r['mode']]:.2f}x" if r["mode"] in ta else "-"
        print(f"| {r['tool']} | {r['mode']} | {r['device']} | {v:,.0f} | {rel} |")
    print()
print("Memory-bandwidth bound of the log-mel stage: it must read the signal (4 B per sample) and")
print("write 64 f32 per hop of 160 samples (1.6 B per sample): 5.6 B per input sample, i.e.")
print("bandwidth / 5.6 B / 16,000 audio-seconds per second.")
if bw:
    bound = bw * 1e9 / 5.6 / 16000
    best = max((r for r in rows if r["tool"].startswith("ser") and r["mode"] == "kernels"),
               key=lambda r: r["audio_seconds_per_second"])
    k = best["audio_seconds_per_second"]
    print(f"At {bw:,.0f} GB/s: {bound:,.0f} audio-s/s; ser's best `kernels` figure ({best['tool']}, {best['workload']}) is {bound / k:.1f}x below it.")
else:
    print("No device bandwidth given (BANDWIDTH_GBS), so no bound is stated for this run.")
PY
cat "benches/results/gpu_logmel_$device.md"
