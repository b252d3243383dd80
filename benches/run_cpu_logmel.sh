#!/usr/bin/env bash
# Runs ser's CPU log-mel benchmark and its peers (librosa, torchaudio) on the same workload,
# in one run, and writes the table to benches/results/cpu_logmel.md.
#
#   benches/run_cpu_logmel.sh            # sets up benches/.venv on first use (needs pip access)
#
# Workload: 512 clips x 3 s at 16 kHz; n_fft 512, win 400, hop 160, 64 Slaney mels, top_db 80.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=benches/.venv
work=benches/.work
mkdir -p "$work" benches/results
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r benches/peers/requirements.txt
fi
reps="${REPS:-7}"
cargo bench -q -p ser-benches --bench cpu_logmel -- --reps "$reps" --write-workload "$PWD/$work/workload.f32" | tee "$work/ser.jsonl"
"$venv/bin/python" benches/peers/cpu_logmel.py "$work/workload.f32" --reps "$reps" | tee "$work/peers.jsonl"
"$venv/bin/python" - "$work/ser.jsonl" "$work/peers.jsonl" > benches/results/cpu_logmel.md <<'PY'
import json, sys, platform, subprocess, datetime, os
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.startswith("{")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
lib1 = next(r for r in rows if r["tool"] == "librosa" and r["threads"] == 1)["audio_seconds_per_second"]
libn = max(r["audio_seconds_per_second"] for r in rows if r["tool"] == "librosa")
tab = max(r["audio_seconds_per_second"] for r in rows if r["tool"] == "torchaudio")
print("# CPU log-mel throughput: ser vs librosa vs torchaudio\n")
print(f"Measured {datetime.date.today()} at commit `{commit}` on {os.cpu_count()} cores ({cpu}), no GPU.")
print("Workload: 512 clips x 3 s at 16 kHz (1,536 s of audio); n_fft 512, 400-sample Hann window,")
print("hop 160, 64 Slaney mels (Slaney norm), zero padding, power_to_db with top_db 80.")
print("Median of repeated runs after a warm-up. Reproduce: `benches/run_cpu_logmel.sh`.\n")
print("| tool | feature | threads / processes | batch | audio-s per s | vs librosa (1 proc) | vs best librosa | vs best torchaudio |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    v = r["audio_seconds_per_second"]
    name = r["tool"] + (f" {r['version']}" if "version" in r else "")
    print(f"| {name} | {r['feature']} | {r['threads']} | {r['batch']} | {v:,.0f} | {v / lib1:.1f}x | {v / libn:.1f}x | {v / tab:.2f}x |")
print("\n`ser` rows other than `logmel` (f32) are given for scale: `logmel_f64` is the float64 path,")
print("`mfcc40` adds a 40-coefficient DCT, `functionals` computes the 261 per-utterance statistics")
print("(MFCC, RMS, ZCR, centroid, roll-off, contrast, YIN F0) used by the classical baselines.")
PY
cat benches/results/cpu_logmel.md
