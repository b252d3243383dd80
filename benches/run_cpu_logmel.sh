#!/usr/bin/env bash
# Runs ser's CPU log-mel benchmark and its peers (librosa, torchaudio) on the same workload,
# in one run, and writes the table to benches/results/cpu_logmel.md.
#
#   benches/run_cpu_logmel.sh            # sets up benches/.venv on first use (needs pip access)
#   ROUNDS=5 REPS=7 benches/run_cpu_logmel.sh
#
# Workload: 512 clips x 3 s at 16 kHz; n_fft 512, win 400, hop 160, 64 Slaney mels, top_db 80.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/venv.sh
# A shared 2-core machine is noisy (10-50 % between runs): tools alternate over several
# rounds and the table reports each configuration's median over rounds, with its range.
reps="${REPS:-5}"
rounds="${ROUNDS:-3}"
: > "$work/all.jsonl"
for round in $(seq "$rounds"); do
  echo "round $round of $rounds" >&2
  cargo bench -q -p ser-benches --bench cpu_logmel -- --reps "$reps" --write-workload "$PWD/$work/workload.f32" | tee -a "$work/all.jsonl"
  "$py" benches/peers/cpu_logmel.py "$work/workload.f32" --reps "$reps" | tee -a "$work/all.jsonl"
done
"$py" - "$work/all.jsonl" "$rounds" > benches/results/cpu_logmel.md <<'PY'
import json, sys, platform, subprocess, datetime, os, statistics
raw = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
groups = {}
for r in raw:
    groups.setdefault((r["tool"], r["feature"], r["threads"], r["batch"]), []).append(r)
rows = []
for key, rs in groups.items():
    vals = [r["audio_seconds_per_second"] for r in rs]
    row = dict(rs[0])
    row["audio_seconds_per_second"] = statistics.median(vals)
    row["range"] = (min(vals), max(vals))
    rows.append(row)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
commit = os.environ.get("BENCH_COMMIT", "?")
lib1 = next(r for r in rows if r["tool"] == "librosa" and r["threads"] == 1)["audio_seconds_per_second"]
libn = max(r["audio_seconds_per_second"] for r in rows if r["tool"] == "librosa")
tab = max(r["audio_seconds_per_second"] for r in rows if r["tool"] == "torchaudio")
print("# CPU log-mel throughput: ser vs librosa vs torchaudio\n")
print(f"Measured {datetime.date.today()} at commit `{commit}` on {os.cpu_count()} cores ({cpu}), no GPU.")
print("Workload: 512 clips x 3 s at 16 kHz (1,536 s of audio); n_fft 512, 400-sample Hann window,")
print("hop 160, 64 Slaney mels (Slaney norm), zero padding, power_to_db with top_db 80.")
print(f"Each figure: median over {sys.argv[2]} alternating rounds of each tool's median of repeated runs")
print("after a warm-up (range over rounds in brackets). Reproduce: `benches/run_cpu_logmel.sh`.\n")
print("| tool | feature | threads / processes | batch | audio-s per s [range] | vs librosa (1 proc) | vs best librosa | vs best torchaudio |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    v = r["audio_seconds_per_second"]
    lo, hi = r["range"]
    name = r["tool"] + (f" {r['version']}" if "version" in r else "")
    print(f"| {name} | {r['feature']} | {r['threads']} | {r['batch']} | {v:,.0f} [{lo:,.0f}-{hi:,.0f}] | {v / lib1:.1f}x | {v / libn:.1f}x | {v / tab:.2f}x |")
print("\n`ser` rows other than `logmel` (f32) are given for scale: `logmel_f64` is the float64 path,")
print("`mfcc40` adds a 40-coefficient DCT, `functionals` computes the 261 per-utterance statistics")
print("(MFCC, RMS, ZCR, centroid, roll-off, contrast, YIN F0) used by the classical baselines.")
PY
cat benches/results/cpu_logmel.md
