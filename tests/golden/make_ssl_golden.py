#!/usr/bin/env python3
"""Tiny random wav2vec 2.0 / HuBERT / WavLM checkpoints and their hidden states, for ser's
SSL encoder tests.

Run through `tests/golden/make_ssl_golden.sh` (pinned torch + transformers). Nothing is
downloaded from the Hugging Face hub: each model is built from a config with random weights
(every parameter perturbed, so that a weight loaded into the wrong place shows), saved as a
Hugging Face folder, then run in float64 on float32-representable inputs.

Writes:

    tests/golden/ssl/<name>/config.json, model.safetensors   (save_pretrained, float32)
    tests/golden/ssl/hubert_base_bin/config.json, pytorch_model.bin   (the same, pickled)
    tests/golden/ssl_golden.h5
        /<name>/<signal>/input              [samples] float32, what the model is fed
        /<name>/<signal>/hidden_states      [layers + 1, frames, hidden] float32 (from float64):
                                            transformers' output_hidden_states (the input of
                                            the first layer, then each layer's output)
        /<name>/<signal>/last_hidden_state  [frames, hidden]
        /<name> attrs: model_type, transformers, torch

The models cover the variants ser has to follow: group-norm feature encoder with post-norm
layers (wav2vec2 / HuBERT / WavLM base), layer-norm feature encoder with pre-norm ("stable")
layers (the large models), HuBERT without the feature projection's layer norm, WavLM's gated
relative position bias (few buckets, so that the logarithmic buckets are reached), and an even
positional-convolution kernel (the trimmed last frame).
"""

import os

import h5py
import numpy as np
import torch
import transformers
from transformers import (
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "ssl")
OUT_H5 = os.path.join(HERE, "ssl_golden.h5")
SR = 16000

TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=(16,) * 7,
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    vocab_size=8,
)

MODELS = {
    "wav2vec2_base": (Wav2Vec2Model, Wav2Vec2Config(**TINY, feat_extract_norm="group", do_stable_layer_norm=False)),
    "wav2vec2_large": (
        Wav2Vec2Model,
        Wav2Vec2Config(**TINY, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True),
    ),
    "hubert_base": (
        HubertModel,
        HubertConfig(**TINY, feat_extract_norm="group", do_stable_layer_norm=False, feat_proj_layer_norm=False),
    ),
    "wavlm_base": (
        WavLMModel,
        WavLMConfig(**TINY, feat_extract_norm="group", do_stable_layer_norm=False, num_buckets=32, max_bucket_distance=64),
    ),
    "wavlm_large": (
        WavLMModel,
        WavLMConfig(
            **TINY,
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
            conv_bias=True,
            num_buckets=32,
            max_bucket_distance=64,
        ),
    ),
}


# Also saved as pytorch_model.bin, in <name>_bin/.
PICKLED = ("hubert_base",)


def signals(rng):
    """A chirp with harmonics, noise, and an amplitude-modulated tone; lengths differ."""
    t = np.arange(2 * SR) / SR
    chirp = sum(0.3 / k * np.sin(2 * np.pi * k * (120 * t + 60 * t**2)) for k in (1, 2, 3))
    noise = rng.standard_normal(int(1.5 * SR)) * 0.2
    tt = np.arange(int(1.2 * SR) + 37) / SR
    am = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * tt)) * np.sin(2 * np.pi * 220 * tt)
    return {"chirp": chirp, "noise": noise, "am": am}


def perturb(model, rng):
    """Adds noise to every parameter (norm gains and biases included, which start at 1 / 0)."""
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.from_numpy(rng.standard_normal(p.shape) * 0.1).to(p.dtype))


def main():
    torch.manual_seed(20261207)
    rng = np.random.default_rng(20261207)
    sigs = {k: v.astype(np.float32) for k, v in signals(rng).items()}
    with h5py.File(OUT_H5, "w") as h5:
        for name, (cls, config) in MODELS.items():
            model = cls(config).eval()
            perturb(model, rng)
            folder = os.path.join(OUT_DIR, name)
            model.save_pretrained(folder, safe_serialization=True)
            if name in PICKLED:
                # The same weights in PyTorch's pickle format (pytorch_model.bin), as older
                # hub checkpoints ship them; compared against the same golden states.
                # (transformers 5 writes only safetensors: torch.save, as transformers 4 did.)
                os.makedirs(folder + "_bin", exist_ok=True)
                config.save_pretrained(folder + "_bin")
                torch.save(model.state_dict(), os.path.join(folder + "_bin", "pytorch_model.bin"))
            # The reference runs in float64 on the float32 weights just saved.
            model = cls.from_pretrained(folder).double().eval()
            group = h5.create_group(name)
            group.attrs["model_type"] = config.model_type
            group.attrs["transformers"] = transformers.__version__
            group.attrs["torch"] = str(torch.__version__)
            for sig, y in sigs.items():
                with torch.no_grad():
                    out = model(torch.from_numpy(y.astype(np.float64))[None], output_hidden_states=True)
                hs = np.stack([h[0].numpy() for h in out.hidden_states]).astype(np.float32)
                g = group.create_group(sig)
                g["input"] = y
                g["hidden_states"] = hs
                g["last_hidden_state"] = out.last_hidden_state[0].numpy().astype(np.float32)
                print(f"{name}/{sig}: {len(y)} samples -> hidden states {hs.shape}")


if __name__ == "__main__":
    main()
