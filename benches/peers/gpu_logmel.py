#!/usr/bin/env python3
"""Peer of ser's device log-mel benchmark: torchaudio's MelSpectrogram + AmplitudeToDB on one
torch device (cuda when present, else the CPU: then the figures are CPU figures, said so).

Reads the raw float32 workload written by `cargo bench --bench gpu_logmel -- --write-workload`
(512 clips x 3 s at 16 kHz), tiles it to --hours for the large workload exactly as the Rust
side does, and times, with ser's settings (n_fft 512, 400-sample Hann window, hop 160, 64
Slaney mels with Slaney norm, zero padding, top_db 80), batches of 512 clips:
  - kernels: the signal already on the device, output left there (synchronised);
  - end_to_end: numpy in, numpy out (upload, compute, download).
Prints one JSON line per measurement (median of --reps runs after one warm-up).
"""

import argparse
import json

import numpy as np
import torch
import torchaudio

from timing import median_time  # benches/peers/timing.py

CLIPS, SECS, SR = 512, 3.0, 16000
N = int(SECS * SR)



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    dev = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    small = np.fromfile(a.workload, dtype=np.float32).reshape(CLIPS, N)
    n_large = max(1, round(a.hours * 3600 / SECS))
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=512, win_length=400, hop_length=160, n_mels=64, center=True,
        pad_mode="constant", power=2.0, norm="slaney", mel_scale="slaney").to(dev)
    db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0).to(dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if dev == "cuda" else "cpu (%d threads)" % torch.get_num_threads()

    def run(x):
        # AmplitudeToDB applies top_db per batch item over all but the batch dimension.
        return db(mel(x))

    for label, count, reps in [("512x3s", CLIPS, a.reps), (f"{a.hours:g}h", n_large, (a.reps + 1) // 2)]:
        host = [small[np.arange(i, min(i + CLIPS, count)) % CLIPS] for i in range(0, count, CLIPS)]
        dev_batches = [torch.from_numpy(h).to(dev) for h in host]
        with torch.inference_mode():
            secs = median_time(lambda: [run(x) for x in dev_batches], reps, sync)
            row = {"tool": f"torchaudio {torchaudio.__version__}", "mode": "kernels", "workload": label,
                   "device": name, "audio_seconds": count * SECS, "seconds": secs,
                   "audio_seconds_per_second": count * SECS / secs}
            print(json.dumps(row), flush=True)
            del dev_batches
            secs = median_time(lambda: [run(torch.from_numpy(h).to(dev)).cpu().numpy() for h in host], reps, sync)
            row.update(mode="end_to_end", seconds=secs, audio_seconds_per_second=count * SECS / secs)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
