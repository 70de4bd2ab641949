"""Timing and memory probes for the benchmark recipes."""

import os
import resource
import statistics
import threading
import time

import keras

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb():
    """The process's resident memory now, in MiB (Linux `/proc`; elsewhere
    the peak so far, from `getrusage`)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRss:
    """Context manager sampling the resident memory every few milliseconds.

    Example:

    ```python
    with PeakRss() as probe:
        model.fit(ds)
    print(probe.peak_mb, probe.start_mb)
    ```
    """

    def __init__(self, interval=0.005):
        self.interval = interval

    def __enter__(self):
        self.start_mb = self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch of `fit`."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def median_after_warmup(seconds):
    """Median of timings with the first (tracing, warm-up) one dropped.

    Raises:
        ValueError: with fewer than two timings.
    """
    if len(seconds) < 2:
        raise ValueError(f"Need at least two timings (one is warm-up), got {len(seconds)}.")
    return statistics.median(seconds[1:])


def time_loop(step, iterator, steps, repeats):
    """Median seconds of `steps` calls of `step(*next(iterator))`, after one
    warm-up round of the same length."""
    seconds = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for _ in range(steps):
            out = step(*next(iterator))
        # The last result to host: waits for queued work to finish.
        keras.ops.convert_to_numpy(out)
        seconds.append(time.perf_counter() - start)
    return median_after_warmup(seconds)
