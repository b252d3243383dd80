"""Reads what `/usr/bin/time -v -o FILE` wrote: the benchmark scripts' wall time and peak RSS."""

import re


def measure(path):
    """{"seconds": wall-clock seconds, "peak_rss_mb": maximum resident set size in MB}."""
    t = open(path).read()
    wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split()[0].split(":")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    return {
        "seconds": sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall))),
        "peak_rss_mb": rss / 1024,
    }
