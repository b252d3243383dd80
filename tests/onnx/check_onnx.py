#!/usr/bin/env python3
"""Checks ser's exported ONNX files against ser's own outputs.

For each case folder given (written by crates/export/tests/*.rs and tests/cli/export.rs): model.onnx
and case.json with "input" (nested lists: [batch, time, features] frames, or [batch, samples]
waveforms) and "expected" (ser's own output for it), or "feeds", a list of such pairs (inputs
of several lengths for one model). Optional keys: "input_name" (default "frames"),
"output_name" (default "probabilities") and "tol" (overrides --tol). Runs
onnx.checker.check_model(full_check=True), then onnxruntime on every input, and prints one JSON
line per case with the max abs difference; exits 1 if any exceeds the tolerance (--tol,
default 1e-4) or a check fails."""

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
        feeds = case.get("feeds") or [{"input": case["input"], "expected": case["expected"]}]
        name_in = case.get("input_name", "frames")
        name_out = case.get("output_name", "probabilities")
        tol = case.get("tol", a.tol)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        diff, shapes = 0.0, []
        for f in feeds:
            x = np.asarray(f["input"], dtype=np.float32)
            (out,) = sess.run([name_out], {name_in: x})
            want = np.asarray(f["expected"], dtype=np.float32)
            if out.shape != want.shape:
                raise SystemExit(f"{d}: output shape {out.shape}, ser's {want.shape}")
            diff = max(diff, float(np.abs(out - want).max()))
            shapes.append(list(x.shape))
        ok = diff <= tol
        bad += not ok
        print(json.dumps({"case": os.path.basename(d), "max_abs_diff": diff, "tol": tol,
                          "ok": ok, "inputs": shapes, "onnx": onnx.__version__,
                          "onnxruntime": ort.__version__}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
