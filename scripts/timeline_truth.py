#!/usr/bin/env python3
"""How often an emotion timeline gets each segment of a long recording right.

Builds a ~60 s recording from a finished run's *test* clips (16 kHz mono WAV files only, in a
seeded random order, 1 s of silence after each; labels from the run's predictions.csv), runs
`ser predict RUN --timeline` on it, and counts the clips whose dominant timeline emotion (mean
window probability over the windows centred inside the clip) is the true one. Prints that
count next to the clip-level accuracy of the same clips (the run's own predictions.csv).

  python3 scripts/timeline_truth.py runs/synth_cnn_lstm --seeds 0 1 2 [--ser target/release/ser]

Standard library only."""

import argparse
import csv
import json
import os
import random
import subprocess
import tempfile
import wave


def build(clips, seed, path, seconds=60.0):
    random.Random(seed).shuffle(clips)
    truth, t = [], 0.0
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        for p, label in clips:
            with wave.open(p) as w:
                n = w.getnframes()
                out.writeframes(w.readframes(n))
            truth.append((t, t + n / 16000, label, p))
            t += n / 16000
            out.writeframes(b"\x00\x00" * 16000)
            t += 1.0
            if t >= seconds:
                break
    return truth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--ser", default=os.environ.get("SER", "target/release/ser"))
    ap.add_argument("--window", default="1.5")
    ap.add_argument("--hop", default="0.5")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(os.path.join(a.run, "predictions.csv"))))
    usable = []
    for r in rows:
        try:
            with wave.open(r["path"]) as w:
                if w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2:
                    usable.append(r)
        except (wave.Error, OSError):
            pass
    clip_acc = sum(r["true"] == r["predicted"] for r in usable) / max(len(usable), 1)
    right = total = 0
    with tempfile.TemporaryDirectory() as d:
        for seed in a.seeds:
            rec = os.path.join(d, "rec.wav")
            truth = build([(r["path"], r["true"]) for r in usable], seed, rec)
            subprocess.run([a.ser, "predict", a.run, rec, "--timeline", "--window", a.window, "--hop", a.hop,
                            "--out", d], check=True, capture_output=True)
            tl = list(csv.DictReader(open(os.path.join(d, "rec.timeline.csv"))))
            probs = [k for k in tl[0] if k.startswith("p_")]
            for t0, t1, label, _ in truth:
                ws = [w for w in tl if w["speech"] == "1" and t0 <= (float(w["start_s"]) + float(w["end_s"])) / 2 <= t1]
                total += 1
                if ws:
                    mean = {k: sum(float(w[k]) for w in ws) / len(ws) for k in probs}
                    right += max(mean, key=mean.get)[2:] == label
    print(json.dumps({"segments": total, "dominant_emotion_right": right, "share": round(right / max(total, 1), 3),
                      "clip_level_accuracy_same_clips": round(clip_acc, 3), "clips_available": len(usable),
                      "window_s": float(a.window), "hop_s": float(a.hop), "seeds": a.seeds}))


if __name__ == "__main__":
    main()
