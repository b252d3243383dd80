#!/usr/bin/env python3
"""onnxruntime inference on the benchmark CNN-LSTM that ser exported (benches/benches/
train_cnn_lstm.rs --onnx FILE): batch-32 throughput and batch-1 latency of a 3 s clip
(301 frames x 64 mels), medians of --reps rounds of --steps runs after a warm-up round.
Prints JSON lines like the other peers."""

import argparse
import json

import numpy as np
import onnxruntime as ort

from timing import median_time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    x = ((np.arange(32 * 301 * 64) * 7919) % 1000).astype(np.float32).reshape(32, 301, 64) / 500.0 - 1.0
    tool = f"onnxruntime {ort.__version__} (file exported by ser)"
    for mode, batch in [("inference", 32), ("latency_b1", 1)]:
        xb = x[:batch]

        def run():
            for _ in range(a.steps):
                sess.run(["probabilities"], {"frames": xb})

        secs = median_time(run, a.reps)
        row = {"tool": tool, "mode": mode, "device": f"cpu ({a.threads} threads)",
               "samples_per_second": batch * a.steps / secs, "seconds": secs, "steps": a.steps}
        if batch == 1:
            row["ms_per_clip"] = 1e3 * secs / a.steps
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
