#!/usr/bin/env python3
"""Peer of benches/benches/train_cnn_lstm.rs: the same CNN-LSTM in PyTorch, same shapes,
same timing rules (median of --reps rounds of --steps steps after one warm-up round; the
training step reads the loss after AdamW's update, inference reads the logits back).

Model: input [32, 1, 64, 301]; four blocks Conv2d(3x3, padding 1) + BatchNorm2d + ReLU +
MaxPool2d(2) with 16/32/64/64 channels; the [32, 64, 4, 18] map read as 18 steps of 256
values by a bidirectional LSTM (128 per direction); mean over time; Linear(256, 8).
Prints one JSON line per measurement. --device cpu|cuda, --threads N (CPU threads),
--allocator NAME (only names the row: the caller preloads the allocator, e.g. mimalloc).
"""

import argparse
import json

import torch
from torch import nn

from timing import median_time  # benches/peers/timing.py


class CnnLstm(nn.Module):
    def __init__(self):
        super().__init__()
        blocks, c_in = [], 1
        for c in (16, 32, 64, 64):
            blocks += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.cnn = nn.Sequential(*blocks)
        self.lstm = nn.LSTM(64 * 4, 128, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, 8)

    def forward(self, x):
        m = self.cnn(x)                                  # [B, C, F', T']
        b, c, f, t = m.shape
        s = m.permute(0, 3, 1, 2).reshape(b, t, c * f)   # [B, T', C * F']
        h, _ = self.lstm(s)
        return self.out(h.mean(dim=1))



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--allocator", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu ({a.threads} threads)"
    idx = torch.arange(32 * 301 * 64)
    x = (((idx * 7919) % 1000).float() / 500.0 - 1.0).reshape(32, 301, 64)
    x = x.transpose(1, 2).unsqueeze(1).contiguous().to(dev)   # [32, 1, 64, 301]
    y = (torch.arange(32) % 8).to(dev)
    model = CnnLstm().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        model.train()
        for _ in range(a.steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            loss.item()

    def infer():
        model.eval()
        with torch.inference_mode():
            for _ in range(a.steps):
                model(x).cpu()

    for mode, fn in (("train", train), ("inference", infer)):
        secs = median_time(fn, a.reps, sync)
        tool = f"pytorch {torch.__version__}" + (f" + {a.allocator}" if a.allocator else "")
        print(json.dumps({"tool": tool, "mode": mode, "device": name,
                          "samples_per_second": 32 * a.steps / secs, "seconds": secs, "steps": a.steps}),
              flush=True)


if __name__ == "__main__":
    main()
