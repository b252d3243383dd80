#!/usr/bin/env python3
"""Peers of ser's CPU log-mel benchmark: librosa and torchaudio on the same workload.

Reads the raw float32 workload written by `cargo bench --bench cpu_logmel -- --write-workload`
(512 clips x 3 s at 16 kHz) and times, with the same settings as ser (n_fft 512, 400-sample
Hann window, hop 160, 64 Slaney mels with Slaney norm, zero padding, power_to_db top_db 80):
  - librosa, one clip at a time, 1 process and one process per core;
  - torchaudio MelSpectrogram + AmplitudeToDB, batch 1 and batch 512, threads = cores.
Prints one JSON line per measurement (median of --reps runs after one warm-up).
"""

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker unless set below

import numpy as np

from timing import median_time  # benches/peers/timing.py

CLIPS, SECS, SR = 512, 3.0, 16000
N = int(SECS * SR)



def librosa_logmel(clip):
    import librosa
    m = librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=512, win_length=400, hop_length=160,
                                       n_mels=64, center=True, pad_mode="constant")
    return librosa.power_to_db(m, top_db=80.0)


def librosa_chunk(chunk):
    for c in chunk:
        librosa_logmel(c)
    return len(chunk)


def report(tool, threads, batch, secs, extra=None):
    row = {"tool": tool, "feature": "logmel", "threads": threads, "batch": batch,
           "seconds": secs, "audio_seconds_per_second": CLIPS * SECS / secs}
    row.update(extra or {})
    print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    clips = np.fromfile(args.workload, dtype="<f4").reshape(CLIPS, N)
    cores = os.cpu_count() or 1

    import librosa
    report("librosa", 1, 1, median_time(lambda: [librosa_logmel(c) for c in clips], args.reps),
           {"version": librosa.__version__})
    if cores > 1:
        chunks = np.array_split(clips, cores)
        with ProcessPoolExecutor(cores) as pool:
            secs = median_time(lambda: sum(pool.map(librosa_chunk, chunks)), args.reps)
        report("librosa", cores, 1, secs, {"version": librosa.__version__, "processes": cores})

    import torch
    import torchaudio
    torch.set_num_threads(cores)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=512, win_length=400, hop_length=160,
                                               n_mels=64, power=2.0, center=True, pad_mode="constant",
                                               norm="slaney", mel_scale="slaney")
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
    x = torch.from_numpy(clips)
    with torch.inference_mode():
        def one_by_one():
            for i in range(CLIPS):
                to_db(mel(x[i:i + 1]))
        report("torchaudio", cores, 1, median_time(one_by_one, args.reps), {"version": torchaudio.__version__})
        report("torchaudio", cores, CLIPS, median_time(lambda: to_db(mel(x)), args.reps),
               {"version": torchaudio.__version__})


if __name__ == "__main__":
    main()
