#!/usr/bin/env bash
# One training epoch of the shipped CNN-LSTM (experiments/cnn_lstm.toml, flex) on synthetic
# corpora of HOURS hours each (`ser synth --hours`), with the whole `ser train` command's peak
# RSS and the epoch's training samples/s, frames held in RAM (`data.memory_gb = 1000`) or read
# from the caches per batch (`data.memory_gb = 0`): how training memory and speed grow with
# the corpus, out of core and not. Writes benches/results/train_scale.md.
#
#   benches/run_train_scale.sh                          # HOURS="1 10 50", MODES="ram disk"
#   HOURS="1 10" MODES=disk SER=/path/to/ser benches/run_train_scale.sh
#
# Corpora larger than PART_HOURS (default 10) are split by speaker into caches of at most that
# many hours (benches/split_manifest.py), named together in `data.cache` (the README's recipe).
# Corpora and caches stay in
# benches/.work (synth_<H>h/, cache_<H>h[_<part>].h5, extracted with
# experiments/features/logmel_16k.toml when missing; the first extraction's wall time is
# recorded), run folders go to benches/.work/runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=benches/.work
mkdir -p "$work" benches/results
. benches/ser_bin.sh
out="$work/train_scale.jsonl"
[ -n "${APPEND:-}" ] || : > "$out"
for h in ${HOURS:-1 10 50}; do
  corpus="$work/synth_${h}h"
  "$SER" synth --hours "$h" --out "$corpus" >&2
  manifests=$(python3 benches/split_manifest.py "$corpus/large/manifest.csv" "$h" "${PART_HOURS:-10}")
  caches=()
  extract_s=0
  for m in $manifests; do
    tag=$(basename "$m" .csv | sed -e 's/^manifest//' -e 's/^_part/_/')
    cache="$PWD/$work/cache_${h}h${tag}.h5"
    caches+=("\"$cache\"")
    if [ ! -f "$cache" ]; then
      s=$(date +%s.%N)
      "$SER" extract --corpus "synth_large=$m" \
        --features experiments/features/logmel_16k.toml --out "$cache" >&2
      extract_s=$(python3 -c "print($extract_s + $(date +%s.%N) - $s)")
    fi
  done
  cache_list=$(IFS=,; echo "${caches[*]}")
  for mode in ${MODES:-ram disk}; do
    [ "$mode" = ram ] && mem=1000 || mem=0
    name="train_${h}h_${mode}"
    exp="$work/$name.toml"
    sed -e "s|^name = .*|name = \"$name\"|" \
        -e "s|^cache = .*|cache = [$cache_list]\nmemory_gb = $mem|" \
        -e "s|^corpora = .*||" \
        -e "s|^synthetic = true|synthetic = false|" \
        -e "s|^epochs = .*|epochs = 1|" \
        experiments/cnn_lstm.toml > "$exp"
    rm -rf "$work/runs/$name"
    /usr/bin/time -v -o "$work/time_train.txt" "$SER" train "$exp" --runs "$work/runs" >&2
    python3 - "$work/time_train.txt" "$work/runs/$name/metrics.jsonl" "$h" "$mode" "$extract_s" \
      ${caches[@]//\"/} >> "$out" <<'PY'
import json, os, sys
sys.path.insert(0, "benches")
from time_v import measure
m = measure(sys.argv[1])
epoch = json.loads(open(sys.argv[2]).readline())
print(json.dumps({"hours": float(sys.argv[3]), "mode": sys.argv[4], "seconds": m["seconds"],
                  "peak_rss_mb": m["peak_rss_mb"], "train_samples_per_s": epoch["train_samples_per_s"],
                  "loader_wait_share": epoch.get("loader_wait_share"), "extract_s": float(sys.argv[5]),
                  "caches": len(sys.argv[6:]), "cache_mb": sum(os.path.getsize(p) for p in sys.argv[6:]) / 1e6}))
PY
    extract_s=0
  done
done
python3 - "$out" "$commit" > benches/results/train_scale.md <<'PY'
import json, sys, platform, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print("# One training epoch as the corpus grows, frames in RAM and out of core\n")
print(f"Machine: {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} cores; commit {sys.argv[2]}; {datetime.date.today()}.")
print("`ser train` of experiments/cnn_lstm.toml (flex, release build) with `epochs = 1` on")
print("`ser synth --hours H` corpora (log-mel frames of logmel_16k.toml caches; corpora over 10 h")
print("split by speaker into 10 h caches named together in `data.cache`), whole command under")
print("/usr/bin/time -v. `ram`: `data.memory_gb = 1000` (frames read into RAM); `disk`:")
print("`data.memory_gb = 0` (each batch reads its clips from the caches). Command:")
print("`benches/run_train_scale.sh`. Extract s: wall time of `ser extract` of the caches.\n")
print("| hours | frames | caches | cache MB | peak RSS MB | train samples/s | loader wait | wall s | extract s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    ex = f"{r['extract_s']:.0f}" if r["extract_s"] else ""
    print(f"| {r['hours']:g} | {r['mode']} | {r['caches']} | {r['cache_mb']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['train_samples_per_s']:.1f} | {100 * (r['loader_wait_share'] or 0):.0f} % | {r['seconds']:.0f} | {ex} |")
PY
cat benches/results/train_scale.md
