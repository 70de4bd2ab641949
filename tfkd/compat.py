"""Work-arounds for Keras/TensorFlow bugs, in one place so an upgrade touches
one file.

Each is checked by a test that fails without it (named below); when an
upgrade fixes the bug upstream, narrow the version check and the test shows
whether the work-around can go.

- Keras 3.15 `Model.fit` under `tf.distribute.MultiWorkerMirroredStrategy`
  (seen with a plain Sequential model, too): (1) `_maybe_symbolic_build`
  reduces the first `PerReplica` batch with `strategy.reduce`, which cannot
  convert the `(x, y)` tuple; (2) logs are averaged across workers with
  `strategy.reduce(..., axis=0)`, which fails on scalars. Tested by
  `tests/distributed_test.py::test_multi_worker_*`.
"""

import keras
import tensorflow as tf

_KERAS = tuple(int(p) for p in keras.__version__.split(".")[:2])
# Seen on 3.15.1; not yet re-checked on a later release.
MULTI_WORKER_FIT_BUGS = _KERAS >= (3, 0)


def first_local_batch(strategy, iterator):
    """The first batch of `fit`'s iterator, taken from the first local
    replica (only its structure and shapes are needed to build metrics).
    """
    for _, _, it in iterator:
        return tf.nest.map_structure(
            lambda v: (
                strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
            ),
            next(it),
        )
    return None


def is_multi_worker(strategy):
    """Whether `strategy` is a MultiWorkerMirroredStrategy (Keras 3.15's own `fit` breaks under it)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.num_replicas_in_sync > len(
        strategy.extended.worker_devices
    )


def reducible_logs(strategy, logs):
    """Logs with a length-1 axis under multi-worker training, so Keras 3.15's
    cross-worker `reduce(..., axis=0)` works; unchanged elsewhere.
    """
    if not (MULTI_WORKER_FIT_BUGS and is_multi_worker(strategy)):
        return logs
    return {k: tf.reshape(tf.cast(v, "float32"), [1]) for k, v in logs.items()}
