#!/usr/bin/env bash
# `ser extract` end to end (decode, resample, trim, features, functionals, HDF5) against a
# plain librosa + joblib pipeline computing the same arrays and functionals into HDF5
# (benches/peers/extract_pipeline.py), on the same cores in the same run, on synthetic
# corpora of HOURS hours each (`ser synth --hours`, CSV-manifest layout, 16 kHz), with the
# shipped experiments/features/logmel_16k.toml. Writes benches/results/extract_end_to_end.md.
#
#   benches/run_extract.sh                 # HOURS="1 10 50"; sets up benches/.venv-extract
#   HOURS=1 benches/run_extract.sh         # a quick look
#   SER=/path/to/ser HOURS="1 10" benches/run_extract.sh
#   SER_REPS=5 benches/run_extract.sh      # ser runs per corpus (median reported; default 3)
#
# The corpora stay in benches/.work/synth_<H>h (resumable; 50 h is ~6 GB of WAV), the caches
# are removed after each measurement. Peak RSS comes from /usr/bin/time -v. Corpora larger
# than PART_HOURS (default 10) are split by speaker (benches/split_manifest.py) and both tools
# process the parts one after another into one file each (the README's recipe for corpora
# larger than one cache should hold; it also bounds the disk a run needs). APPEND=1 adds to
# the rows of the previous run instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
work=benches/.work
mkdir -p "$work" benches/results
venv=benches/.venv-extract
if ! "$venv/bin/python" -c "import librosa, h5py, joblib" >/dev/null 2>&1; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r benches/peers/requirements-extract.txt
fi
py="$venv/bin/python"
. benches/ser_bin.sh
features=experiments/features/logmel_16k.toml
jobs=$(nproc)
out="$work/extract.jsonl"
[ -n "${APPEND:-}" ] || : > "$out"
# One measured command per part: its wall time, peak RSS and output size as a JSON line.
record() { # tool hours rep part audio_s time_file output
  "$py" - "$@" >> "$out" <<'PY'
import json, os, sys
sys.path.insert(0, "benches")
from time_v import measure
tool, hours, rep, part, audio, tfile, output = sys.argv[1:8]
m = measure(tfile)
print(json.dumps({"tool": tool, "hours": float(hours), "rep": int(rep), "part": int(part),
                  "audio_s": float(audio), "seconds": m["seconds"], "peak_rss_mb": m["peak_rss_mb"],
                  "bytes": os.path.getsize(output), "jobs": os.cpu_count()}))
PY
}
for h in ${HOURS:-1 10 50}; do
  corpus="$work/synth_${h}h"
  "$SER" synth --hours "$h" --out "$corpus" >&2
  manifests=$("$py" benches/split_manifest.py "$corpus/large/manifest.csv" "$h" "${PART_HOURS:-10}")
  part=0
  for manifest in $manifests; do
    audio_s=$("$py" -c "
import csv, os, soundfile as sf, sys
m = sys.argv[1]; base = os.path.dirname(m)
print(sum(sf.info(os.path.join(base, r['path'])).duration for r in csv.DictReader(open(m))))" "$manifest")
    cache="$work/ser_${h}h.h5"
    for rep in $(seq "${SER_REPS:-3}"); do
      rm -f "$cache"
      /usr/bin/time -v -o "$work/time_ser.txt" "$SER" extract --threads "$jobs" \
        --corpus "synth_large=$manifest" --features "$features" --out "$cache" >&2
      record ser "$h" "$rep" "$part" "$audio_s" "$work/time_ser.txt" "$cache"
      rm -f "$cache"
    done
    peer="$work/peer_${h}h.h5"
    /usr/bin/time -v -o "$work/time_peer.txt" "$py" benches/peers/extract_pipeline.py \
      "$manifest" "$peer" --jobs "$jobs" > "$work/peer.json"
    record librosa+joblib "$h" 1 "$part" "$audio_s" "$work/time_peer.txt" "$peer"
    rm -f "$peer"
    part=$((part + 1))
  done
done
"$py" - "$out" "$commit" "$features" > benches/results/extract_end_to_end.md <<'PY'
import json, sys, platform, datetime
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
# A run of a corpus split into parts is its parts one after another: times, audio and bytes
# add up, peak RSS is the largest.
runs = {}
for l in lines:
    r = runs.setdefault((l["tool"], l["hours"], l["rep"]), {**l, "seconds": 0, "audio_s": 0, "bytes": 0, "parts": 0, "peak_rss_mb": 0})
    for k in ("seconds", "audio_s", "bytes"):
        r[k] += l[k]
    r["parts"] += 1
    r["peak_rss_mb"] = max(r["peak_rss_mb"], l["peak_rss_mb"])
rows = list(runs.values())
for r in rows:
    r["audio_seconds_per_second"] = r["audio_s"] / r["seconds"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print("# `ser extract` end to end vs librosa + joblib\n")
print(f"Machine: {cpu}, {rows[0]['jobs']} cores; commit {sys.argv[2]}; {datetime.date.today()}.")
print(f"Feature config: {sys.argv[3]} (log-mel 64 + MFCC 40, deltas of both, 261 functionals with YIN F0).")
print("Corpora: `ser synth --hours H` (CSV manifest, 16 kHz WAV). Command: `benches/run_extract.sh`.")
print("ser: `ser extract --corpus synth_large=.../manifest.csv --features ... --out cache.h5`, whole")
print("command (decode, trim, features, functionals, one journaled HDF5 write), release build. Peer:")
print("benches/peers/extract_pipeline.py (librosa.load, trim, the same arrays and functionals, joblib")
print("over every core, one HDF5 file with shuffle + gzip 1). Audio seconds are the raw clips';")
print("both tools are timed by /usr/bin/time over the whole command (the peer's Python start included).")
print("ser runs SER_REPS times per corpus (median shown, range beside it); the peer runs once, and")
print("at ~10x the wall time its single run spans the machine's drift (runs on this shared host")
print("have varied by up to 25 % from one minute to the next).\n")
print("| hours | tool | audio-s/s | range (runs) | x librosa | wall s | peak RSS MB | file MB |")
print("|---|---|---|---|---|---|---|---|")
for h in sorted({r["hours"] for r in rows}):
    peer = next((r for r in rows if r["hours"] == h and r["tool"] != "ser"), None)
    parts = max(r["parts"] for r in rows if r["hours"] == h)
    label = f"{h:g}" + (f" ({parts} parts)" if parts > 1 else "")
    for tool in dict.fromkeys(r["tool"] for r in rows if r["hours"] == h):
        reps = sorted((r for r in rows if r["hours"] == h and r["tool"] == tool),
                      key=lambda r: r["audio_seconds_per_second"])
        r = reps[len(reps) // 2]
        lo, hi = reps[0]["audio_seconds_per_second"], reps[-1]["audio_seconds_per_second"]
        spread = f"{lo:,.0f}-{hi:,.0f} ({len(reps)})" if len(reps) > 1 else "(1)"
        ratio = f"{r['audio_seconds_per_second'] / peer['audio_seconds_per_second']:.2f}x" if peer else "-"
        print(f"| {label} | {tool} | {r['audio_seconds_per_second']:,.0f} | {spread} | {ratio} | {r['seconds']:.1f} | {r['peak_rss_mb']:,.0f} | {r['bytes'] / 1e6:,.0f} |")
PY
cat benches/results/extract_end_to_end.md
