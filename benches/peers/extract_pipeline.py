#!/usr/bin/env python3
"""The peer of `ser extract` end to end: a plain librosa + joblib pipeline over a CSV manifest
(path,label,speaker[,...]) that computes what experiments/features/logmel_16k.toml stores and
writes it to HDF5 the way a Python user would.

Per clip: decode and resample to 16 kHz (librosa.load), trim leading / trailing silence
(librosa.effects.trim, top_db 60), STFT (n_fft 512, 400-sample Hann, hop 160) -> power ->
64 Slaney mels -> power_to_db (ref 1, top_db 80) -> MFCC 40, deltas and delta-deltas of both
(width 9), and the functionals: mean, std, p10, p50, p90 of each MFCC, RMS, ZCR, spectral
centroid, roll-off (0.85), contrast (7 bands from 200 Hz) and YIN F0 (60-500 Hz, frame 1024,
hop 256; librosa's YIN has no voicing decision, so every frame counts, which only saves the
peer work), plus a voiced fraction. Clips run in parallel with joblib (one process per core);
the arrays go to one HDF5 file (shuffle + gzip level 1, chunks of 512 rows, as ser) as ser's cache
stores them: every clip's rows of each array concatenated, with a clip table. Results are
appended as they stream in (joblib's ordered generator), so memory stays bounded at any size.

Prints one JSON line: {"tool": "librosa+joblib", "clips", "audio_s", "seconds",
"audio_seconds_per_second", "jobs", "bytes"}.

    extract_pipeline.py MANIFEST.csv OUT.h5 [--jobs N]
"""

import argparse
import csv
import json
import os
import time

import h5py
import librosa
import numpy as np
from joblib import Parallel, delayed

SR, N_FFT, WIN, HOP, N_MELS, N_MFCC = 16000, 512, 400, 160, 64, 40
PCT = (10, 50, 90)


def stats(x):
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return [0.0] * (2 + len(PCT))
    return [x.mean(), x.std()] + list(np.percentile(x, PCT))


def clip(path):
    y, _ = librosa.load(path, sr=SR, mono=True)
    y, _ = librosa.effects.trim(y, top_db=60, frame_length=2048, hop_length=512)
    X = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window="hann", center=True)
    S = np.abs(X)
    M = librosa.feature.melspectrogram(S=S**2, sr=SR, n_fft=N_FFT, n_mels=N_MELS)
    L = librosa.power_to_db(M, ref=1.0, amin=1e-10, top_db=80.0)
    C = librosa.feature.mfcc(S=L, n_mfcc=N_MFCC)
    width = 9 if L.shape[1] >= 9 else (L.shape[1] // 2) * 2 - 1
    frames = {"logmel": L, "mfcc": C}
    for name, A in list(frames.items()):
        if width >= 3:
            frames[name + "_delta"] = librosa.feature.delta(A, width=width, order=1)
            frames[name + "_delta2"] = librosa.feature.delta(A, width=width, order=2)
        else:
            frames[name + "_delta"] = np.zeros_like(A)
            frames[name + "_delta2"] = np.zeros_like(A)
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[0]
    cent = librosa.feature.spectral_centroid(S=S, sr=SR, n_fft=N_FFT)[0]
    roll = librosa.feature.spectral_rolloff(S=S, sr=SR, n_fft=N_FFT, roll_percent=0.85)[0]
    con = librosa.feature.spectral_contrast(S=S, sr=SR, n_fft=N_FFT, fmin=200.0, n_bands=6)
    f0 = (librosa.yin(y, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=256)
          if len(y) >= 1024 else np.zeros(0))
    func = []
    for row in list(C) + [rms, zcr, cent, roll] + list(con) + [f0]:
        func += stats(row)
    func.append(1.0 if f0.size else 0.0)
    return ({k: v.T.astype(np.float32) for k, v in frames.items()},
            np.asarray(func, dtype=np.float32), len(y) / SR)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("out")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    base = os.path.dirname(os.path.abspath(a.manifest))
    rows = list(csv.DictReader(open(a.manifest)))
    paths = [r["path"] if os.path.isabs(r["path"]) else os.path.join(base, r["path"]) for r in rows]
    t0 = time.perf_counter()
    # Raw (untrimmed) duration, as ser reports audio seconds.
    audio_s = sum(librosa.get_duration(path=p) for p in paths)
    # Results stream in clip order and are appended as they come (resizable datasets), so
    # memory stays bounded at any corpus size, as a user extracting hundreds of hours must.
    results = Parallel(n_jobs=a.jobs, batch_size=8, return_as="generator")(
        delayed(clip)(p) for p in paths)
    comp = dict(compression="gzip", compression_opts=1, shuffle=True)
    n = np.zeros(len(rows), dtype=np.uint64)
    with h5py.File(a.out, "w") as f:
        sets, funcs, rows_done = {}, None, 0
        for k, (frames, functionals, _) in enumerate(results):
            if k == 0:
                for name, x in frames.items():
                    sets[name] = f.create_dataset("frames/" + name, shape=(0, x.shape[1]), maxshape=(None, x.shape[1]),
                                                  chunks=(512, x.shape[1]), dtype=x.dtype, **comp)
                funcs = f.create_dataset("functionals", shape=(len(rows), len(functionals)),
                                         dtype=np.float32, **comp)
            t = frames["logmel"].shape[0]
            for name, x in frames.items():
                sets[name].resize(rows_done + t, axis=0)
                sets[name][rows_done:rows_done + t] = x
            funcs[k] = functionals
            n[k] = t
            rows_done += t
        clips = np.zeros(len(rows), dtype=[("label", "S16"), ("speaker", "S32"), ("frame_offset", "u8"), ("n_frames", "u4")])
        clips["label"] = [r["label"] for r in rows]
        clips["speaker"] = [r["speaker"] for r in rows]
        clips["frame_offset"] = np.concatenate([[0], np.cumsum(n)[:-1]])
        clips["n_frames"] = n
        f.create_dataset("clips", data=clips)
    secs = time.perf_counter() - t0
    print(json.dumps({
        "tool": "librosa+joblib", "clips": len(rows), "audio_s": audio_s, "seconds": secs,
        "audio_seconds_per_second": audio_s / secs, "jobs": a.jobs, "bytes": os.path.getsize(a.out),
    }))


if __name__ == "__main__":
    main()
