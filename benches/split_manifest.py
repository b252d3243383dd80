#!/usr/bin/env python3
"""Splits a `ser synth` manifest of HOURS hours by speaker into parts of at most PART_HOURS
(the README's recipe for corpora larger than one cache should hold), writing
`manifest_part<k>.csv` beside it; prints the manifests to use, one per line (the manifest
itself when one part is enough).

    split_manifest.py MANIFEST.csv HOURS PART_HOURS
"""

import csv
import math
import os
import sys

src, hours, part_h = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
parts = max(1, math.ceil(hours / part_h))
if parts == 1:
    print(os.path.abspath(src))
    sys.exit()
rows = list(csv.DictReader(open(src)))
speakers = sorted({r["speaker"] for r in rows})
for p in range(parts):
    mine = set(speakers[p * len(speakers) // parts:(p + 1) * len(speakers) // parts])
    dst = src.replace(".csv", f"_part{p}.csv")
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(r for r in rows if r["speaker"] in mine)
    print(os.path.abspath(dst))
