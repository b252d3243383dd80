#!/usr/bin/env python3
"""Reads a ser feature cache with h5py: the snippet from the README, runnable."""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    clips = f["clips"]
    labels = clips["label"].asstr()[:]
    speakers = clips["speaker"].asstr()[:]
    corpora = clips["corpus"].asstr()[:]
    offset, n_frames = clips["frame_offset"][:], clips["n_frames"][:]
    i = 0
    logmel = f["frames/logmel"][offset[i]:offset[i] + n_frames[i]]  # (n_frames, n_mels)
    print(f"{len(labels)} clips; clip 0: {corpora[i]} speaker {speakers[i]} {labels[i]}, log-mel {logmel.shape}")
    if "functionals" in f:
        print(f"functionals {f['functionals'].shape}, e.g. {f['functional_names'].asstr()[0]}")
    print(f"feature config {f.attrs['feature_config_hash']}:")
    print(f.attrs["feature_config"])
