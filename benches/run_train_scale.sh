#!/usr/bin/env bash
# One training epoch of the shipped CNN-LSTM (experiments/cnn_lstm.toml, flex) on synthetic
# corpora of HOURS hours each (`ser synth --hours`), with the whole `ser train` command's peak
# RSS and the epoch's training samples/s: how training memory and speed grow with the corpus.
# Writes benches/results/train_scale.md.
#
#   benches/run_train_scale.sh              # HOURS="1 10 50"
#   HOURS="1 10" SER=/path/to/ser benches/run_train_scale.sh
#
# Corpora and caches stay in benches/.work (synth_<H>h/, cache_<H>h.h5; extracted with
# experiments/features/logmel_16k.toml when missing), run folders go to benches/.work/runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=benches/.work
mkdir -p "$work" benches/results
. benches/ser_bin.sh
out="$work/train_scale.jsonl"
: > "$out"
for h in ${HOURS:-1 10 50}; do
  corpus="$work/synth_${h}h"
  "$SER" synth --hours "$h" --out "$corpus" >&2
  cache="$PWD/$work/cache_${h}h.h5"
  exp="$work/train_${h}h.toml"
  sed -e "s|^name = .*|name = \"train_${h}h\"|" \
      -e "s|^cache = .*|cache = \"$cache\"|" \
      -e "s|^corpora = .*|corpora = [\"synth_large=$PWD/$corpus/large/manifest.csv\"]|" \
      -e "s|^synthetic = true|synthetic = false|" \
      -e "s|^epochs = .*|epochs = 1|" \
      experiments/cnn_lstm.toml > "$exp"
  if [ ! -f "$cache" ]; then
    "$SER" extract --corpus "synth_large=$corpus/large/manifest.csv" \
      --features experiments/features/logmel_16k.toml --out "$cache" >&2
  fi
  rm -rf "$work/runs/train_${h}h"
  /usr/bin/time -v -o "$work/time_train.txt" "$SER" train "$exp" --runs "$work/runs" >&2
  python3 - "$work/time_train.txt" "$work/runs/train_${h}h/metrics.jsonl" "$h" "$cache" >> "$out" <<'PY'
import json, os, sys
sys.path.insert(0, "benches")
from time_v import measure
m = measure(sys.argv[1])
epoch = json.loads(open(sys.argv[2]).readline())
print(json.dumps({"hours": float(sys.argv[3]), "seconds": m["seconds"], "peak_rss_mb": m["peak_rss_mb"],
                  "train_samples_per_s": epoch["train_samples_per_s"],
                  "loader_wait_share": epoch.get("loader_wait_share"),
                  "cache_mb": os.path.getsize(sys.argv[4]) / 1e6}))
PY
done
python3 - "$out" "$commit" > benches/results/train_scale.md <<'PY'
import json, sys, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print("# One training epoch as the corpus grows (in-RAM dataset)\n")
print(f"Machine: {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} cores; commit {sys.argv[2]}; {datetime.date.today()}.")
print("`ser train` of experiments/cnn_lstm.toml (flex, release build) with `epochs = 1` on")
print("`ser synth --hours H` corpora (log-mel frames of logmel_16k.toml caches), whole command")
print("under /usr/bin/time -v. Command: `benches/run_train_scale.sh`. Today the dataset is read")
print("whole into RAM (`Dataset::load`), so peak RSS grows with the corpus: the baseline issue 21's")
print("out-of-core path is measured against (target: flat within 1.5x from 1 h to 50 h).\n")
print("| hours | cache MB | peak RSS MB | train samples/s | loader wait | wall s |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['hours']:g} | {r['cache_mb']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['train_samples_per_s']:.1f} | {100 * (r['loader_wait_share'] or 0):.0f} % | {r['seconds']:.0f} |")
PY
cat benches/results/train_scale.md
