#!/usr/bin/env bash
# Streaming benchmark, one run: the real-time factor (processing time / audio time) and the
# time per scored 3 s window of `ser stream` on a ~60 s recording piped in as raw 16-bit PCM,
# for the same trained CNN-LSTM (experiments/cnn_lstm.toml's network, trained 1 epoch: speed
# does not depend on the weights) as a run folder (burn flex: ser's CPU features + network),
# as its `ser export` (frame graph in tract), as its `ser export --with-frontend` (the whole
# pipeline in tract), and the --with-frontend file in onnxruntime (benches/peers/onnx_stream.py,
# the same windows and VAD); the run folder also with --device wgpu (on a machine without a GPU
# that is lavapipe, Mesa's CPU Vulkan, and the row says so). Then batch throughput of the same
# tools on 3 s windows of a ~5 min recording. Writes benches/results/stream_cpu.md.
#
#   benches/run_stream.sh                 # THREADS=2 (rayon and onnxruntime threads)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
threads="${THREADS:-2}"
work=benches/.work/stream
mkdir -p "$work" benches/results
export BENCH_COMMIT="$(git describe --always --dirty 2>/dev/null || echo '?')"
cargo build -q --release -p ser-cli
ser="${CARGO_TARGET_DIR:-target}/release/ser"
py=.venv/bin/python
run="$work/runs/synth_cnn_lstm"
if [ ! -f "$run/results.json" ]; then
  "$ser" train experiments/cnn_lstm.toml --epochs 1 --runs "$work/runs" >&2
fi
"$ser" export "$run" --out "$work/frames.onnx" >&2
"$ser" export "$run" --with-frontend --out "$work/wave.onnx" >&2
# ~60 s of CREMA-D-layout clips (16 kHz) with 1 s pauses, as raw s16le.
"$py" - "$work/rec.raw" <<'PY'
import glob, sys, wave
out, t = open(sys.argv[1], "wb"), 0.0
for p in sorted(glob.glob("data/synth/cremad/AudioWAV/*.wav"))[::7]:
    with wave.open(p) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        n = w.getnframes()
        out.write(w.readframes(n))
    out.write(b"\0\0" * 16000)
    t += n / 16000 + 1.0
    if t >= 60.0:
        break
PY
rows="$work/rows.jsonl"
: > "$rows"
# model | --device | what the row is called
cases=(
  "$run|flex|ser stream, run folder (burn flex)"
  "$run|wgpu|ser stream, run folder (burn wgpu)"
  "$work/frames.onnx|flex|ser stream, frame export in tract"
  "$work/wave.onnx|flex|ser stream, --with-frontend export in tract"
)
for c in "${cases[@]}"; do
  IFS='|' read -r model dev tool <<< "$c"
  for rep in 1 2 3; do
    RAYON_NUM_THREADS="$threads" "$ser" stream "$model" --device "$dev" --window 3 --hop 1 \
      < "$work/rec.raw" > "$work/out.jsonl" 2> "$work/err.txt" || { cat "$work/err.txt" >&2; exit 1; }
    "$py" - "$tool" "$work/out.jsonl" "$work/err.txt" "$threads" >> "$rows" <<'PY'
import json, re, sys
tool, out, err, threads = sys.argv[1:]
lines = [json.loads(l) for l in open(out)]
text = open(err).read()
audio = float(re.search(r"over ([0-9.]+) s of audio", text).group(1))
rtf = float(re.search(r"\(([0-9.]+) s processing", text).group(1)) / audio
speech = sum(l["speech"] for l in lines)
# The device ser names on its first line (a GPU, or lavapipe: Mesa's CPU Vulkan).
on = re.search(r" on (.+?): [0-9.]+ s windows", text)
if on and "wgpu" in tool:
    tool = tool.replace("burn wgpu", "burn " + on.group(1))
print(json.dumps({"tool": tool, "threads": int(threads), "rtf": rtf, "audio_s": audio,
                  "windows": len(lines), "scored": speech,
                  "ms_per_scored_window": 1e3 * rtf * audio / max(speech, 1)}))
PY
  done
done
OMP_NUM_THREADS="$threads" "$py" benches/peers/onnx_stream.py "$work/wave.onnx" "$work/rec.raw" \
  --threads "$threads" --reps 3 >> "$rows"

# Throughput: ~5 min of clips without pauses scored as non-overlapping 3 s windows in batches
# of 32 (`ser predict --timeline --window 3 --hop 3 --batch 32`); the same command on a 3 s
# file gives the start-up (loading the model) that is subtracted.
"$py" - "$work" <<'PY'
import glob, sys, wave
work = sys.argv[1]
frames = b""
for p in sorted(glob.glob("data/synth/cremad/AudioWAV/*.wav")):
    with wave.open(p) as w:
        frames += w.readframes(w.getnframes())
    if len(frames) >= 2 * 16000 * 300:
        break
for name, data in [("long", frames), ("short", frames[: 2 * 16000 * 3])]:
    with wave.open(f"{work}/{name}.wav", "wb") as out:
        out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000); out.writeframes(data)
    if name == "long":
        open(f"{work}/long.raw", "wb").write(data)
PY
RAYON_NUM_THREADS="$threads" "$py" - "$ser" "$work" "$run" "$threads" >> "$rows" <<'PY'
import csv, json, statistics, subprocess, sys, time
ser, work, run, threads = sys.argv[1:]
cases = [(run, "flex", "ser predict, run folder (burn flex)"),
         (run, "wgpu", "ser predict, run folder (burn wgpu)"),
         (f"{work}/frames.onnx", "flex", "ser predict, frame export in tract"),
         (f"{work}/wave.onnx", "flex", "ser predict, --with-frontend export in tract")]
def timed(model, dev, f):
    t = time.perf_counter()
    p = subprocess.run([ser, "predict", model, f"{work}/{f}.wav", "--timeline", "--window", "3",
                        "--hop", "3", "--batch", "32", "--device", dev, "--out", f"{work}/tl"],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stderr)
    return time.perf_counter() - t, p.stderr
for model, dev, tool in cases:
    rates = []
    for _ in range(3):
        (t_long, err), (t_short, _) = timed(model, dev, "long"), timed(model, dev, "short")
        n = sum(r["speech"] == "1" for r in csv.DictReader(open(f"{work}/tl/long.timeline.csv")))
        rates.append((n - 1) / (t_long - t_short))
    if dev == "wgpu":
        on = err.split(" on ", 1)[1].split(", features on")[0] if " on " in err else "wgpu"
        tool = tool.replace("burn wgpu", "burn " + on)
    print(json.dumps({"tool": tool, "threads": int(threads), "clips": n, "batch": 32,
                      "clips_per_second": statistics.median(rates)}))
PY
OMP_NUM_THREADS="$threads" "$py" benches/peers/onnx_stream.py "$work/wave.onnx" "$work/long.raw" \
  --throughput --batch 32 --threads "$threads" --reps 3 >> "$rows"
"$py" - "$rows" > benches/results/stream_cpu.md <<'PY'
import json, os, statistics, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Inference of the whole pipeline (audio in, probabilities out): ser vs onnxruntime\n")
print(f"Measured {datetime.date.today()} at commit `{os.environ.get('BENCH_COMMIT', '?')}`; host {os.cpu_count()} cores ({cpu}).")
print("Model: experiments/cnn_lstm.toml's CNN-LSTM (log-mel 64 x 300 frames, 4 conv blocks, BiLSTM 128),")
print("as a run folder and as its two exports. Input: ~60 s of synthetic speech with 1 s pauses, raw")
print("16-bit PCM piped in; 3 s windows every 1 s, energy VAD (silent windows are not scored).")
print("RTF = processing time / audio time (lower is faster); median of 3 runs each.")
print("Reproduce: `benches/run_stream.sh`.\n")
print("| tool | threads | windows (scored) | RTF | ms per scored window | vs onnxruntime |")
print("|---|---|---|---|---|---|")
tput = [r for r in rows if "clips_per_second" in r]
rows = [r for r in rows if "rtf" in r]
by = {}
for r in rows:
    by.setdefault(r["tool"], []).append(r)
med = {t: statistics.median(x["rtf"] for x in v) for t, v in by.items()}
ort = next((v for t, v in med.items() if t.startswith("onnxruntime")), None)
for t, v in by.items():
    r = v[0]
    ms = statistics.median(x["ms_per_scored_window"] for x in v)
    ratio = f"{ort / med[t]:.2f}x" if ort else "-"
    print(f"| {t} | {r['threads']} | {r['windows']} ({r['scored']}) | {med[t]:.4f} | {ms:.1f} | {ratio} |")
print("\n`vs onnxruntime` is onnxruntime's RTF over the tool's: above 1 means faster than onnxruntime.")
print("\nThroughput: ~5 min of the same speech without pauses, non-overlapping 3 s windows scored in")
print("batches of 32 (`ser predict --timeline --window 3 --hop 3 --batch 32`, model loading subtracted:")
print("the same command on a 3 s file; medians of 3; onnxruntime: the same windows, batches of 32).\n")
print("| tool | threads | 3 s clips | clips per s | ms per clip | vs onnxruntime |")
print("|---|---|---|---|---|---|")
tby = {}
for r in tput:
    tby.setdefault(r["tool"], []).append(r)
tmed = {t: statistics.median(x["clips_per_second"] for x in v) for t, v in tby.items()}
ort_t = next((v for t, v in tmed.items() if t.startswith("onnxruntime")), None)
for t, v in tby.items():
    r, c = v[0], tmed[t]
    ratio = f"{c / ort_t:.2f}x" if ort_t else "-"
    print(f"| {t} | {r['threads']} | {r['clips']} | {c:,.1f} | {1e3 / c:.1f} | {ratio} |")
print("\n`vs onnxruntime`: clips per second over onnxruntime's (above 1 means faster).")
if any("llvmpipe" in r["tool"] for r in rows + tput):
    print("llvmpipe is lavapipe, Mesa's software Vulkan on the CPU: this host has no GPU, so the wgpu")
    print("row measures burn's wgpu backend on the CPU, not a GPU.")
PY
cat benches/results/stream_cpu.md
