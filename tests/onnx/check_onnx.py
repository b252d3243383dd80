#!/usr/bin/env python3
"""Checks ser's exported ONNX files against ser's own outputs.

For each case folder given (written by crates/export/tests/onnxruntime.rs): model.onnx,
case.json with "input" ([batch, time, features] nested lists) and "expected" (ser's class
probabilities). Runs onnx.checker.check_model(full_check=True), then onnxruntime on the input,
and prints one JSON line per case with the max abs difference; exits 1 if any exceeds the
tolerance (--tol, default 1e-4) or a check fails."""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="+")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    bad = 0
    for d in a.cases:
        path = os.path.join(d, "model.onnx")
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        case = json.load(open(os.path.join(d, "case.json")))
        x = np.asarray(case["input"], dtype=np.float32)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (probs,) = sess.run(["probabilities"], {"frames": x})
        diff = float(np.abs(probs - np.asarray(case["expected"], dtype=np.float32)).max())
        ok = diff <= a.tol
        bad += not ok
        print(json.dumps({"case": os.path.basename(d), "max_abs_diff": diff, "ok": ok,
                          "onnx": onnx.__version__, "onnxruntime": ort.__version__}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
