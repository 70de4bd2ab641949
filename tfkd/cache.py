"""Offline distillation: run the teachers once and replay their outputs."""

import hashlib
import os

import numpy as np
import tensorflow as tf

from tfkd.distiller import CACHED_INPUTS, CACHED_TEACHER


def _needed_keys(distiller):
    teachers = distiller.get_teachers()
    keys = [set() for _ in teachers]
    for t_index, t_key, _ in distiller._frozen.routes:
        for i in range(len(teachers)) if t_index is None else [t_index]:
            keys[i].add(t_key)
    return [sorted(k) for k in keys]


def _first_inputs(dataset):
    element = next(iter(dataset.take(1)))
    x = element[0] if isinstance(element, tuple) else element
    return np.concatenate([np.asarray(v).ravel() for v in tf.nest.flatten(x)])


def fingerprint(distiller, dataset):
    """A hash of the teachers' weights, the cached taps and the data."""
    h = hashlib.sha256()
    for teacher in distiller.get_teachers():
        h.update(teacher.name.encode())
        for w in teacher.weights:
            h.update(np.ascontiguousarray(w.numpy()).tobytes())
    h.update(repr(_needed_keys(distiller)).encode())
    h.update(repr(dataset.element_spec).encode())
    h.update(str(int(dataset.cardinality())).encode())
    h.update(_first_inputs(dataset).tobytes())
    return h.hexdigest()[:16]


def cache_teacher_outputs(distiller, dataset, cache_dir=None):
    """Runs the teachers once over `dataset` and returns a replaying dataset.

    Each element becomes `({"tfkd_inputs": x, "tfkd_teacher": outputs}, y)`:
    the inputs are stored **with** the teachers' outputs for them (logits and
    every tapped feature the distiller's losses need), so a student input is
    never paired with a teacher output for another input. `distiller.fit` on
    the result skips the teacher forward pass. The first epoch computes and
    writes the cache; later epochs read it.

    The dataset must give the same inputs on every pass: one with random
    augmentation or reshuffling is refused. Cache it first, then shuffle the
    returned dataset (`.shuffle(n)` shuffles the order of the cached batches).
    With `cache_dir`, the cache is a file whose name carries a fingerprint of
    the teachers' weights, the taps and the data, so a rerun with the same
    ones reuses it and any change computes a new one (never a stale reuse).

    Args:
        distiller: a `tfkd.Distiller`.
        dataset: a batched `tf.data.Dataset` of `(x, y)` or `(x, y, w)`.
        cache_dir: folder for an on-disk cache. Defaults to memory.

    Returns:
        A `tf.data.Dataset` for `distiller.fit`.

    Raises:
        ValueError: if the dataset's inputs differ between two passes.

    Example:

    ```python
    cached = tfkd.cache_teacher_outputs(distiller, train_ds, "workdir/cache")
    distiller.fit(cached.shuffle(64), epochs=10)
    ```
    """
    if not np.array_equal(_first_inputs(dataset), _first_inputs(dataset)):
        raise ValueError(
            "cache_teacher_outputs: the dataset gives different inputs on two "
            "passes (random augmentation or reshuffling), so cached teacher "
            "outputs would freeze that randomness. Fix: cache the dataset "
            "before augmenting or shuffling it (then shuffle the cached "
            "dataset), or make the augmentation stateless, seeded by example "
            "id and epoch."
        )
    keys = _needed_keys(distiller)

    @tf.function
    def teacher_outputs(x):
        outs = distiller._teacher_outputs(x)
        return tuple({k: o[k] for k in keys[i]} for i, o in enumerate(outs))

    def attach(x, *rest):
        return ({CACHED_INPUTS: x, CACHED_TEACHER: teacher_outputs(x)},) + rest

    cached = dataset.map(attach)
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        cached = cached.cache(os.path.join(cache_dir, f"teacher_{fingerprint(distiller, dataset)}"))
    else:
        cached = cached.cache()
    # Fill the cache now, in one full pass: Keras stops an epoch after its
    # known number of steps, before the end of the data, and tf.data only
    # keeps a cache whose pass reached the end.
    for _ in cached:
        pass
    return cached.prefetch(tf.data.AUTOTUNE)
