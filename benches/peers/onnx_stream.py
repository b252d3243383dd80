#!/usr/bin/env python3
"""The streaming peer of benches/run_stream.sh: ser's `--with-frontend` export in onnxruntime,
fed the windows `ser stream` scores (3 s every 1 s over raw 16-bit PCM at the model's rate),
with the same causal energy VAD (a window is silence when its RMS is more than 35 dB below the
loudest window so far, or below -70 dBFS), one window per run as a stream would. Prints one
JSON line per repetition: real-time factor (processing time / audio time) and ms per scored
window. With --throughput: batch throughput instead, as `ser predict --timeline --hop 3`
scores a recording: the non-overlapping 3 s windows (VAD relative to the loudest window of
the file) in batches of --batch, clips (windows) per second."""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("pcm")
    ap.add_argument("--rate", type=int, default=16000)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--hop", type=float, default=1.0)
    ap.add_argument("--vad-db", type=float, default=35.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--throughput", action="store_true")
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    raw = open(a.pcm, "rb").read()
    if a.throughput:
        return throughput(sess, raw, a)
    audio_s = len(raw) / 2 / a.rate
    win, hop = int(a.window * a.rate), int(a.hop * a.rate)
    tool = f"onnxruntime {ort.__version__}, --with-frontend export"
    for _ in range(a.reps):
        t0 = time.perf_counter()
        y = np.frombuffer(raw, dtype="<i2").astype(np.float32)
        loudest, windows, scored = -np.inf, 0, 0
        for start in range(0, len(y) - win + 1, hop):
            w = y[start:start + win]
            windows += 1
            if not w.any():
                continue
            level = 10 * np.log10(max(float(np.mean((w / 32768.0) ** 2)), 1e-20))
            loudest = max(loudest, level)
            if level < max(loudest - a.vad_db, -70.0):
                continue
            sess.run(["probabilities"], {"waveform": w[None, :]})
            scored += 1
        secs = time.perf_counter() - t0
        print(json.dumps({"tool": tool, "threads": a.threads, "rtf": secs / audio_s,
                          "audio_s": audio_s, "windows": windows, "scored": scored,
                          "ms_per_scored_window": 1e3 * secs / max(scored, 1)}), flush=True)


def throughput(sess, raw, a):
    win = int(a.window * a.rate)
    tool = f"onnxruntime {ort.__version__}, --with-frontend export"
    for _ in range(a.reps):
        t0 = time.perf_counter()
        y = np.frombuffer(raw, dtype="<i2").astype(np.float32)
        ws = [y[s:s + win] for s in range(0, len(y) - win + 1, win)]
        level = [10 * np.log10(max(float(np.mean((w / 32768.0) ** 2)), 1e-20)) for w in ws]
        floor = max(max(level) - a.vad_db, -70.0)
        speech = [w for w, v in zip(ws, level) if v >= floor]
        for k in range(0, len(speech), a.batch):
            sess.run(["probabilities"], {"waveform": np.stack(speech[k:k + a.batch])})
        secs = time.perf_counter() - t0
        print(json.dumps({"tool": tool, "threads": a.threads, "clips": len(speech),
                          "batch": a.batch, "clips_per_second": len(speech) / secs}), flush=True)


if __name__ == "__main__":
    main()
