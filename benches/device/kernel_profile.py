#!/usr/bin/env python3
"""Per-kernel device time from a CubeCL profiling log, as a Markdown table.

CubeCL writes one line per launch (`| 11.13ms | SpectrumKernel_065b47d2`) when run with
`CUBECL_DEBUG_LOG=FILE` (which also logs every compiled kernel's source). Kernels are listed
in the order they first ran: for `gpu_logmel --kernels-only` that is the benchmark's order of
variants (each radix: without, then with, `--from-signal`, each without, then with,
`--padded`, each without, then with, `--in-place`), each variant a distinct hash.

    python3 benches/device/kernel_profile.py cubecl.log > kernel_profile.md
"""
import re
import statistics
import sys

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
LINE = re.compile(r"^\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$")


def main(path: str) -> None:
    runs: dict[str, list[float]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m:
                name = " ".join(p.strip() for p in m.group(3).split("|"))
                runs.setdefault(name, []).append(float(m.group(1)) * UNITS[m.group(2)])
    if not runs:
        sys.exit(f"{path}: no profiling lines (was CUBECL_DEBUG_LOG set?)")
    # A kernel's first launch includes its compilation: left out of the medians and totals.
    steady = {name: times[1:] or times for name, times in runs.items()}
    total = sum(sum(v) for v in steady.values())
    print(f"Per-kernel device time from `{path}`, each kernel's first launch (its")
    print("compilation) left out.\n")
    print("| kernel | launches | median | total | share |")
    print("|---|---|---|---|---|")
    for name, times in steady.items():
        print(
            f"| {name} | {len(runs[name])} | {statistics.median(times) * 1e3:.3f} ms "
            f"| {sum(times) * 1e3:.1f} ms | {sum(times) / total:.1%} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
