"""Loads a run's TensorBoard folder with TensorBoard's own EventAccumulator and prints its
scalars ([step, value] per tag) and images (size, and whether the bytes decode as the PNG
the header says) as JSON, for crates/study/tests/training.rs."""
import json
import sys
import zlib

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def png_ok(data, width, height):
    # Signature, then the IHDR chunk with width and height; every chunk's CRC checked.
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    at, seen_ihdr = 8, False
    while at < len(data):
        n = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        if zlib.crc32(kind + body) != int.from_bytes(data[at + 8 + n:at + 12 + n], "big"):
            return False
        if kind == b"IHDR":
            seen_ihdr = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")) == (width, height)
        at += 12 + n
    return seen_ihdr


acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
out = {
    "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
    "images": {
        t: [{"step": e.step, "width": e.width, "height": e.height,
             "png_ok": png_ok(e.encoded_image_string, e.width, e.height)} for e in acc.Images(t)]
        for t in tags["images"]
    },
}
print(json.dumps(out))
