"""Timing rule shared by the peer scripts, the same as the Rust benchmarks': one warm-up run,
then the median of `reps` timed runs. `sync` waits for queued device work (CUDA) so that a
timed run ends when the device is done, not when Python has queued the work."""

import statistics
import time


def median_time(fn, reps, sync=lambda: None):
    fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
