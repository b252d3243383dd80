#!/usr/bin/env python3
"""Generate librosa / SciPy reference outputs for ser's feature tests.

Run through `tests/golden/make_golden.sh`, which builds a pinned virtual environment.
Writes `tests/golden/librosa_golden.h5`:

    /<setting>             attrs: toml (a ser FeatureConfig), description
    /<setting>/<signal>/   y (input, float32-representable, stored as float32) and librosa's
                           float64 outputs: power [frames, bins] (stored as float32), logmel [frames, n_mels], mfcc [frames, n_mfcc],
                           mfcc_delta, mfcc_delta2 (when the clip has >= 9 frames),
                           and for settings with functionals: rms, zcr, centroid, rolloff,
                           contrast [frames, 7], f0 (librosa.yin)
    /filters/<name>        x, y, sos: scipy.signal.butter(..., output="sos") + sosfilt
    /trim/<name>           y, bounds: librosa.effects.trim(top_db=..) start/end samples

Everything is computed in float64 (input, STFT and mel basis), which is librosa's most
precise path; ser's f64 pipeline is compared against it tightly and its f32 pipeline within
the tolerance stated in the Rust tests.
"""

import json
import os
import sys

import h5py
import librosa
import numpy as np
import scipy
import scipy.signal

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "librosa_golden.h5")
RNG = np.random.default_rng(20261124)
GZ = dict(compression="gzip", compression_opts=9, shuffle=True)


def signals(sr):
    """Deterministic test signals at rate `sr` (float64)."""
    out = {}
    t = np.arange(int(1.0 * sr)) / sr
    f0, f1 = 60.0, 0.45 * sr
    out["chirp"] = 0.5 * scipy.signal.chirp(t, f0=f0, f1=f1, t1=t[-1], method="logarithmic")
    out["noise"] = 0.1 * RNG.standard_normal(int(0.77 * sr))
    # Speech-like: harmonic source with vibrato and syllable envelope, silences around.
    t = np.arange(int(1.0 * sr)) / sr
    f = 140 + 25 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f) / sr
    voiced = sum((0.6 / k) * np.sin(k * phase) for k in range(1, 25) if k * 165 < sr / 2)
    env = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    speech = 0.3 * voiced * env
    speech[: int(0.1 * sr)] = 0.0
    speech[-int(0.1 * sr):] = 0.0
    out["speechlike"] = speech
    out["short"] = 0.2 * RNG.standard_normal(300)
    n_odd = 12345 if sr >= 16000 else 6173
    out["odd_length"] = 0.25 * np.sin(2 * np.pi * 997.0 * np.arange(n_odd) / sr) + 0.01 * RNG.standard_normal(n_odd)
    # Inputs are float32-representable so the file can store them as float32 exactly.
    return {k: v.astype(np.float32).astype(np.float64) for k, v in out.items()}


def povey(n):
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))) ** 0.85


SETTINGS = {
    "speech16k": dict(
        description="16 kHz, n_fft 512, win 400, hop 160, 64 slaney mels, ref 1.0, top_db 80, 20 MFCC",
        sr=16000, n_fft=512, win_length=400, hop_length=160, window="hann", center=True,
        pad_mode="constant", n_mels=64, fmin=0.0, fmax=None, htk=False, norm="slaney",
        ref=1.0, top_db=80.0, n_mfcc=20, lifter=0.0, functionals=True,
    ),
    "librosa_default": dict(
        description="librosa defaults: 22.05 kHz, n_fft 2048, hop 512, 128 mels, 20 MFCC",
        sr=22050, n_fft=2048, win_length=2048, hop_length=512, window="hann", center=True,
        pad_mode="constant", n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney",
        ref=1.0, top_db=80.0, n_mfcc=20, lifter=0.0, functionals=False,
    ),
    "htk_reflect_hamming": dict(
        description="HTK mels without norm, reflect padding, hamming, ref=max, top_db 60, lifter 22",
        sr=16000, n_fft=1024, win_length=1024, hop_length=256, window="hamming", center=True,
        pad_mode="reflect", n_mels=40, fmin=20.0, fmax=7600.0, htk=True, norm=None,
        ref="max", top_db=60.0, n_mfcc=13, lifter=22.0, functionals=False,
    ),
    "povey_uncentred_8k": dict(
        description="8 kHz, Kaldi povey window (200 in 256), hop 80, not centred, power 1 mel",
        sr=8000, n_fft=256, win_length=200, hop_length=80, window="povey", center=False,
        pad_mode="constant", n_mels=23, fmin=0.0, fmax=None, htk=False, norm="slaney",
        ref=1.0, top_db=80.0, n_mfcc=13, lifter=0.0, functionals=False, power=1.0,
    ),
}


def toml_for(s):
    lines = ['frames = ["spectrogram", "logmel", "mfcc"]', 'precision = "f64"', "",
             "[audio]", f"sample_rate = {s['sr']}", "",
             "[stft]", f"n_fft = {s['n_fft']}", f"win_length = {s['win_length']}",
             f"hop_length = {s['hop_length']}", f"window = \"{s['window']}\"",
             f"center = {'true' if s['center'] else 'false'}", f"pad_mode = \"{s['pad_mode']}\"", "",
             "[mel]", f"n_mels = {s['n_mels']}", f"fmin = {s['fmin']}"]
    if s["fmax"] is not None:
        lines.append(f"fmax = {s['fmax']}")
    lines += [f"htk = {'true' if s['htk'] else 'false'}",
              f"norm = \"{'slaney' if s['norm'] == 'slaney' else 'none'}\"",
              f"power = {s.get('power', 2.0)}", "",
              "[db]", f"ref = {json.dumps(s['ref'])}", f"top_db = {s['top_db']}", "",
              "[mfcc]", f"n_mfcc = {s['n_mfcc']}", f"lifter = {s['lifter']}", "",
              "[deltas]", "order = 2", "width = 9"]
    if s["functionals"]:
        lines += ["", "[functionals]", "enabled = true", "f0_min = 60.0", "f0_max = 500.0",
                  "yin_frame_length = 1024"]
    return "\n".join(lines) + "\n"


def compute(s, y):
    window = povey(s["win_length"]) if s["window"] == "povey" else s["window"]
    power = s.get("power", 2.0)
    X = librosa.stft(y, n_fft=s["n_fft"], hop_length=s["hop_length"], win_length=s["win_length"],
                     window=window, center=s["center"], pad_mode=s["pad_mode"])
    P = np.abs(X) ** power
    fmax = s["fmax"] if s["fmax"] is not None else s["sr"] / 2
    mel_basis = librosa.filters.mel(sr=s["sr"], n_fft=s["n_fft"], n_mels=s["n_mels"], fmin=s["fmin"],
                                    fmax=fmax, htk=s["htk"], norm=s["norm"], dtype=np.float64)
    M = librosa.feature.melspectrogram(S=P, sr=s["sr"], n_fft=s["n_fft"], n_mels=s["n_mels"],
                                       fmin=s["fmin"], fmax=fmax, htk=s["htk"], norm=s["norm"],
                                       dtype=np.float64)
    assert np.allclose(M, mel_basis @ P, rtol=1e-12, atol=0)
    ref = np.max if s["ref"] == "max" else s["ref"]
    L = librosa.power_to_db(M, ref=ref, amin=1e-10, top_db=s["top_db"])
    C = librosa.feature.mfcc(S=L, n_mfcc=s["n_mfcc"], dct_type=2, norm="ortho", lifter=s["lifter"])
    out = {"power": P.T, "logmel": L.T, "mfcc": C.T}
    if C.shape[1] >= 9:
        out["mfcc_delta"] = librosa.feature.delta(C, width=9, order=1).T
        out["mfcc_delta2"] = librosa.feature.delta(C, width=9, order=2).T
    if s["functionals"]:
        S = np.abs(X)
        sr, n_fft, hop = s["sr"], s["n_fft"], s["hop_length"]
        out["rms"] = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=True)[0]
        out["zcr"] = librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop, center=True)[0]
        out["centroid"] = librosa.feature.spectral_centroid(S=S, sr=sr, n_fft=n_fft)[0]
        out["rolloff"] = librosa.feature.spectral_rolloff(S=S, sr=sr, n_fft=n_fft, roll_percent=0.85)[0]
        out["contrast"] = librosa.feature.spectral_contrast(S=S, sr=sr, n_fft=n_fft, fmin=200.0,
                                                            n_bands=6, quantile=0.02).T
        if len(y) >= 1024:
            out["f0"] = librosa.yin(y, fmin=60.0, fmax=500.0, sr=sr, frame_length=1024,
                                    hop_length=hop, center=True)
    return out


def main():
    if os.path.exists(OUT):
        os.remove(OUT)
    with h5py.File(OUT, "w") as f:
        f.attrs["librosa"] = librosa.__version__
        f.attrs["numpy"] = np.__version__
        f.attrs["scipy"] = scipy.__version__
        f.attrs["generator"] = "tests/golden/make_golden.py"
        for name, s in SETTINGS.items():
            g = f.create_group(name)
            g.attrs["toml"] = toml_for(s)
            g.attrs["description"] = s["description"]
            for sig_name, y in signals(s["sr"]).items():
                if not s["center"] and len(y) < s["n_fft"]:
                    continue  # librosa refuses uncentred analysis of a clip shorter than n_fft
                sg = g.create_group(sig_name)
                sg.create_dataset("y", data=y.astype(np.float32), **GZ)
                for k, v in compute(s, y).items():
                    if k == "power":
                        if s["n_fft"] > 512 and sig_name in ("noise", "odd_length"):
                            continue  # incompressible and redundant with the other signals
                        # Relative checks only: float32 storage (7 digits) is enough.
                        v = v.astype(np.float32)
                    sg.create_dataset(k, data=np.ascontiguousarray(v), **GZ)
        fg = f.create_group("filters")
        x = RNG.standard_normal(4000)
        for name, (order, band, btype, fs) in {
            "bandpass_4_300_3400_16k": (4, [300.0, 3400.0], "bandpass", 16000),
            "lowpass_5_1000_16k": (5, 1000.0, "lowpass", 16000),
            "highpass_3_80_22k": (3, 80.0, "highpass", 22050),
        }.items():
            sos = scipy.signal.butter(order, band, btype=btype, output="sos", fs=fs)
            h = fg.create_group(name)
            h.attrs["spec"] = json.dumps({"order": order, "band": band, "btype": btype, "fs": fs})
            h.create_dataset("x", data=x)
            h.create_dataset("y", data=scipy.signal.sosfilt(sos, x))
            h.create_dataset("sos", data=sos)
        tg = f.create_group("trim")
        for name, (sr, top_db) in {"speech16k_60": (16000, 60.0), "speech16k_20": (16000, 20.0)}.items():
            y = signals(sr)["speechlike"]
            y = np.concatenate([np.zeros(3000), y, 1e-4 * RNG.standard_normal(5000)])
            y = y.astype(np.float32).astype(np.float64)
            _, idx = librosa.effects.trim(y, top_db=top_db, frame_length=2048, hop_length=512)
            h = tg.create_group(name)
            h.attrs["top_db"] = top_db
            h.create_dataset("y", data=y.astype(np.float32), **GZ)
            h.create_dataset("bounds", data=np.asarray(idx, dtype=np.int64))
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1e6:.2f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
