#!/usr/bin/env bash
# Self-supervised encoder throughput: ser (burn, crates/ssl) beside PyTorch + transformers on
# the same Hugging Face folder, in one run; writes benches/results/ssl_encoder_<device>.md.
# The models are base-size WavLM / wav2vec 2.0 / HuBERT with random weights (made by the peer
# script with transformers' default configs: the shapes of wavlm-base-plus, wav2vec2-base and
# hubert-base; the cost does not depend on the weights), so nothing is downloaded.
#
#   benches/run_ssl_encoder.sh                           # CPU: flex vs PyTorch, 2 threads each
#   DEVICE=wgpu TORCH_DEVICE=cuda benches/run_ssl_encoder.sh   # GPU: wgpu vs PyTorch CUDA
#   BENCH_BIN=path/to/ssl_encoder PYTHON=python3 ...     # prebuilt binary
#     (`cargo build --release --bench ssl_encoder`: far quicker than `cargo bench`)
#   TCH=1 TCH_BENCH_BIN=path/to/ssl_encoder (built with --features tch, as scripts/tch.sh)
#                                                        # also burn's LibTorch backend
#   ARCHS="wavlm wav2vec2 hubert" BATCH=2 SECS=4 REPS=3 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/venv.sh
"$py" -c "import transformers" 2>/dev/null || "$py" -m pip install -q -r benches/peers/requirements-ssl.txt
device="${DEVICE:-flex}"
torch_device="${TORCH_DEVICE:-cpu}"
threads="${THREADS:-2}"
archs="${ARCHS:-wavlm wav2vec2 hubert}"
args=(--batch "${BATCH:-2}" --secs "${SECS:-4}" --reps "${REPS:-3}")
out="$work/ssl_encoder_$device.jsonl"
: > "$out"
bench=(cargo bench -q -p ser-benches --bench ssl_encoder --)
[ -n "${BENCH_BIN:-}" ] && bench=("$BENCH_BIN" --bench)
for arch in $archs; do
  model="$work/ssl_$arch"
  [ -f "$model/model.safetensors" ] || "$py" benches/peers/ssl_encoder.py --make "$model" --arch "$arch"
  RAYON_NUM_THREADS="$threads" "${bench[@]}" --model "$PWD/$model" --device "$device" "${args[@]}" \
    2> >(grep -v XDG_RUNTIME_DIR >&2) | tee -a "$out"
  if [ -n "${TCH:-}" ]; then
    [ "$torch_device" = cuda ] && tch_device=tch-cuda || tch_device=tch
    OMP_NUM_THREADS="$threads" LD_LIBRARY_PATH="$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')" \
      "${TCH_BENCH_BIN:?TCH=1 needs TCH_BENCH_BIN}" --bench --model "$PWD/$model" --device "$tch_device" "${args[@]}" \
      | tee -a "$out"
  fi
  OMP_NUM_THREADS="$threads" "$py" benches/peers/ssl_encoder.py --model "$model" \
    --device "$torch_device" --threads "$threads" "${args[@]}" | tee -a "$out"
done
"$py" - "$out" > "benches/results/ssl_encoder_$device.md" <<'PY'
import json, sys, datetime, os
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
commit = os.environ.get("BENCH_COMMIT", "?")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Self-supervised encoders: ser (burn) vs PyTorch + transformers\n")
print(f"Measured {datetime.date.today()} at commit `{commit}`; host {os.cpu_count()} cores ({cpu}).")
print("Base-size models with random weights (transformers' default configs: 12 layers, hidden 768,")
print("7 convolutions of 512 channels); every layer's hidden states of a batch, read back to the host.")
print("Reproduce: `benches/run_ssl_encoder.sh` (see its header).\n")
print("| model | tool | device | batch x seconds | audio-s per s | minutes per hour of audio | vs PyTorch |")
print("|---|---|---|---|---|---|---|")
ref = {r["model"]: r["audio_seconds_per_second"] for r in rows if r["tool"].startswith("pytorch")}
for r in rows:
    v = r["audio_seconds_per_second"]
    vs = f"{v / ref[r['model']]:.2f}x" if r["model"] in ref else "-"
    print(f"| {r['model']} | {r['tool']} | {r['device']} | {r['batch']} x {r['clip_seconds']:g} | {v:,.1f} | {60 / v:,.1f} | {vs} |")
PY
cat "benches/results/ssl_encoder_$device.md"
