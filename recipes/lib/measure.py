"""Timing and memory probes for the benchmark recipes."""

import json
import os
import resource
import statistics
import threading
import time

import keras
import numpy as np
import psutil
import tensorflow as tf

from tfkd.litert_model import LiteRTModel


def rss_mb():
    """The process's resident memory now, in MiB (psutil)."""
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb():
    """This process's peak resident memory in MiB. Linux's `VmHWM` counts
    only this program; `getrusage`'s maximum (used elsewhere) would also
    count the memory of the parent it was forked from, as it stood before
    `exec`."""
    try:
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024  # kB
    except (OSError, StopIteration):
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


class LossScaleRecorder(keras.callbacks.Callback):
    """Records the loss scale and the skipped-step count after every batch
    and writes them to a JSON file when training ends."""

    def __init__(self, path):
        super().__init__()
        self.path, self.scale, self.skipped = path, [], []

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if "loss_scale" in logs:
            self.scale.append(float(logs["loss_scale"]))
            self.skipped.append(float(logs.get("nonfinite_steps", 0.0)))

    def on_train_end(self, logs=None):
        if self.scale:
            with open(self.path, "w") as f:
                json.dump({"loss_scale": self.scale, "nonfinite_steps": self.skipped}, f)


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
