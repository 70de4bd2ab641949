"""Timing and memory probes for the benchmark recipes."""

import os
import resource
import statistics
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from tfkd.litert_model import LiteRTModel

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


def size_bytes(path):
    """Bytes of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def median_ms(call, repeats, warmup=20):
    """Median wall milliseconds of `call()` over `repeats` calls, after `warmup`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def runner(path):
    """(predict over a batch, one batch-1 call) for an export."""
    if path.endswith(".tflite"):
        lite = LiteRTModel(path, num_threads=1)
        one = np.zeros((1,) + lite.input_shape, np.float32)
        return lite.predict, lambda: lite.predict(one, batch_size=1)
    served = tf.saved_model.load(path).signatures["serving_default"]
    shape = tuple(served.structured_input_signature[1]["images"].shape[1:])
    one = tf.zeros((1,) + shape, tf.float32)
    predict = lambda x: np.concatenate(
        [served(images=tf.constant(x[i : i + 512]))["logits"].numpy() for i in range(0, len(x), 512)]
    )
    return predict, lambda: served(images=one)


def interleaved_epochs(models, datasets, steps, rounds):
    """Epoch seconds of each model, timed in turns: a warm-up epoch each,
    then `rounds` rounds of one epoch per model, the order reversed every
    other round (so neither always runs first).

    Args:
        models: compiled Keras models.
        datasets: one dataset per model (or one for all).
        steps: steps per epoch.
        rounds: timed rounds.

    Returns:
        Per model, the seconds of each timed round.
    """
    datasets = datasets if isinstance(datasets, (list, tuple)) else [datasets] * len(models)
    timers = [EpochTimer() for _ in models]
    order = list(range(len(models)))
    for r in range(rounds + 1):
        for i in order if r % 2 == 0 else order[::-1]:
            models[i].fit(datasets[i], epochs=1, steps_per_epoch=steps, callbacks=[timers[i]], verbose=0)
    return [t.seconds[1:] for t in timers]
