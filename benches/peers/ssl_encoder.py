"""Peer of benches/benches/ssl_encoder.rs: the same Hugging Face folder in PyTorch +
transformers, every layer's hidden states of a batch of clips (float32, eval, no grad).
Also makes the benchmark's model folders (random weights of a real model's size; nothing is
downloaded):

    python ssl_encoder.py --make DIR --arch wavlm|wav2vec2|hubert   # base size (95 M params)
    python ssl_encoder.py --model DIR --device cpu|cuda --threads 2 --batch 2 --secs 4 --reps 3
"""

import argparse
import json

import numpy as np
import torch
import transformers
from transformers import AutoModel, HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig, WavLMModel

from timing import median_time

BASE = {"wav2vec2": (Wav2Vec2Config, Wav2Vec2Model), "hubert": (HubertConfig, HubertModel), "wavlm": (WavLMConfig, WavLMModel)}


def make(folder, arch):
    config_cls, model_cls = BASE[arch]
    torch.manual_seed(0)
    # transformers' defaults are the base models' shapes (wavlm-base-plus, wav2vec2-base, hubert-base).
    model_cls(config_cls()).eval().save_pretrained(folder, safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--make")
    ap.add_argument("--arch", default="wavlm")
    ap.add_argument("--model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--secs", type=float, default=4.0)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if a.make:
        make(a.make, a.arch)
        return
    torch.set_num_threads(a.threads)
    model = AutoModel.from_pretrained(a.model).to(a.device).eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((a.batch, int(a.secs * 16000)), dtype=np.float32) * 0.1).to(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)

    def step():
        with torch.no_grad():
            out = model(x, output_hidden_states=True)
        for h in out.hidden_states:
            h.cpu()

    seconds = median_time(step, a.reps, sync)
    c = model.config
    print(json.dumps({
        "tool": f"pytorch {torch.__version__} + transformers {transformers.__version__}",
        "device": f"{a.device} ({a.threads} threads)" if a.device == "cpu" else a.device,
        "model": c.model_type, "layers": c.num_hidden_layers, "hidden": c.hidden_size,
        "batch": a.batch, "clip_seconds": a.secs,
        "audio_seconds_per_second": a.batch * a.secs / seconds, "seconds": seconds,
    }))


if __name__ == "__main__":
    main()
