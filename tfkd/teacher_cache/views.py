"""Consistent teaching without the teacher at training time: a cache of the
teachers' outputs on seeded augmented views (Shen & Xing 2022, "A fast
knowledge distillation framework for visual recognition").
"""

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfkd import atomic
from tfkd.data import augment as augment_lib
from tfkd.data.epochs import ENDLESS, check_examples, images_and_labels
from tfkd.distiller import CACHED_INPUTS, CACHED_TEACHER, EXAMPLE_INDEX
from tfkd.taps import LOGITS
from tfkd.teacher_cache import fingerprint, topk

# Views use seed streams far from the epochs of online augmentation.
VIEW_STREAM = 1 << 24
# Salt of the stateless draw that picks an example's view in an epoch.
_PICK_SALT = 0x7FD1
# Above this, a cache of feature taps is refused (logits are always small).
MAX_FEATURE_CACHE_BYTES = 4 << 30


def _check_args(views, top_k, batch_size):
    if isinstance(views, bool) or not isinstance(views, int) or views < 1:
        raise ValueError(f"cache_teacher_views: `views` must be an integer >= 1, got {views!r}.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"cache_teacher_views: `top_k` must be a positive integer or None, got {top_k!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"cache_teacher_views: `batch_size` must be an integer >= 1, got {batch_size!r}.")


def _layout(distiller, top_k, num_classes):
    """{(teacher, key): (shape per example, numpy dtype)} of what is stored."""
    layout = {}
    teachers = distiller.get_teachers()
    for i, keys in enumerate(distiller.teacher_keys()):
        for key in keys:
            shape = distiller.teacher_output_shape(i, key)
            if shape is None:
                raise ValueError(
                    f"cache_teacher_views: the shape of tap {key!r} of teacher "
                    f"`{teachers[i].name}` is unknown; it cannot be cached."
                )
            if key == LOGITS and top_k:
                layout[(i, topk.TOPK_VALUES)] = ((top_k,), np.float32)
                layout[(i, topk.TOPK_INDICES)] = ((top_k,), topk.index_dtype(num_classes))
                layout[(i, topk.TOPK_TAIL)] = ((), np.float32)
            else:
                layout[(i, key)] = (shape, np.float32)
    return layout


def cache_size(distiller, num_examples, views=1, top_k=None):
    """Bytes of a view cache: examples × views × what is stored per view
    (all logits; or, with `top_k`, k values, k class indices and the
    log-mean-exp of the other logits; and the feature taps).

    Args:
        distiller: a `tfkd.Distiller`.
        num_examples: examples in the training split.
        views: augmented views per example.
        top_k: logits kept per view (None: all).

    Returns:
        `(total_bytes, feature_bytes)`, where `feature_bytes` is the part
        taken by feature taps (not logits).
    """
    classes = int(distiller.student.outputs[0].shape[-1])
    top_k = None if top_k is not None and top_k >= classes else top_k
    total = features = 0
    for (_, key), (shape, dtype) in _layout(distiller, top_k, classes).items():
        size = num_examples * views * math.prod(shape) * np.dtype(dtype).itemsize
        total += size
        if not (key == LOGITS or key in topk.TOPK_KEYS):
            features += size
    return total, features


def _view_seeds(seed, views, index):
    """Per-example seeds of view(s) `views` (scalar or per example)."""
    return augment_lib.example_seeds(seed, VIEW_STREAM + tf.cast(views, tf.int64), index)


def _fill(distiller, examples, pool, augment, views, batch_size, seed, top_k, layout, verbose):
    x, y = examples
    n = int(x.shape[0])
    keys = distiller.teacher_keys()
    store = {k: np.empty((views, n) + shape, dtype) for k, (shape, dtype) in layout.items()}

    @tf.function
    def teacher_view(index, view):
        images = tf.gather(x, index)
        if augment is not None:
            images, _ = augment(images, tf.gather(y, index), _view_seeds(seed, view, index), pool)
        outs = distiller.teacher_outputs(images)
        return topk.compress(tuple({k: o[k] for k in keys[i]} for i, o in enumerate(outs)), top_k)

    steps = math.ceil(n / batch_size)
    bar = keras.utils.Progbar(views * steps, unit_name="teacher batch") if verbose else None
    for v in range(views):
        for s in range(steps):
            index = np.arange(s * batch_size, min(n, (s + 1) * batch_size))
            outs = teacher_view(tf.constant(index, tf.int64), tf.constant(v, tf.int64))
            for i, out in enumerate(outs):
                for key, value in out.items():
                    store[(i, key)][v, index] = value.numpy().astype(store[(i, key)].dtype)
            if bar:
                bar.add(1)
    return store


def _save(store, path):
    """Writes the cache atomically: a partial file is never left under `path`."""
    atomic.write_file(path, lambda tmp: np.savez(tmp, **{f"{i}|{key}": v for (i, key), v in store.items()}), ".npz")


def _load(path, layout, views, n):
    with np.load(path) as data:
        store = {(int(k.split("|", 1)[0]), k.split("|", 1)[1]): data[k] for k in data.files}
    expected = {k: (views, n) + shape for k, (shape, _) in layout.items()}
    if {k: v.shape for k, v in store.items()} != expected:
        raise ValueError(
            f"The teacher cache {path!r} does not hold what this run needs (other taps, views or "
            "data). Fix: delete it; it will be recomputed."
        )
    return store


def cache_teacher_views(
    distiller,
    examples,
    batch_size,
    seed=0,
    augment=None,
    views=1,
    top_k=None,
    cache_dir=None,
    first_epoch=0,
    steps_per_epoch=None,
    verbose=1,
):
    """Runs the teachers once on `views` augmented views of every example and
    returns batches that replay them, so the teachers never run in `fit`.

    The teachers see exactly the image the student sees (consistent
    teaching): view `v` of example `i` is augmented with the stateless seed
    `(seed, v, i)`; epoch `e` gives example `i` one of its views, chosen by a
    stateless draw from `(seed, e, i)`, regenerates that augmented image (and
    its mixup partner) from its seed and pairs it with the stored teacher
    outputs. Filling costs `views` teacher passes over the data (batched,
    with a progress bar); after that an epoch costs what training the
    student alone costs. Batch order is that of `tfkd.data.seeded_epochs`,
    so a resumed run sees the same batches as an uninterrupted one.

    Stored per example and view: the logits (all, or with `top_k` the k
    largest values, their class indices and the log-mean-exp of the
    others; replayed as in
    `tfkd.cache_teacher_outputs`), and every feature tap the losses need.
    The size is printed; a feature cache over 4 GiB is refused.

    Args:
        distiller: a `tfkd.Distiller`.
        examples: `(images, labels)` arrays of equal length (float images).
        batch_size: examples per training batch (also the fill batch).
        seed: integer seed of the views, the view choice and the order.
            Defaults to 0.
        augment: a `tfkd.data.Augment` (or a deterministic callable with its
            signature). Defaults to None (one view: the images as they are).
        views: augmented views per example, >= 1. Defaults to 1.
        top_k: keep only the k largest teacher logits. Defaults to None.
        cache_dir: folder for an on-disk cache, named by a fingerprint of the
            teachers' weights, the taps, the data, the augmentation's
            settings, `seed`, `views` and `top_k`; a rerun reuses it and any
            change makes a new one. Defaults to None (memory).
        first_epoch: the epoch to start at (resuming).
        steps_per_epoch: batches per epoch. Defaults to all of them.
        verbose: show the fill's progress bar and the cache size.

    Returns:
        `(dataset, steps_per_epoch)`, as `tfkd.data.seeded_epochs`.

    Raises:
        ValueError: before any teacher pass, for `views` < 1, a bad `top_k`,
            an augmentation that is not deterministic, examples that are not
            arrays of one length, `views` > 1 without augmentation, or a
            feature cache over the size limit.

    Example:

    ```python
    aug = tfkd.data.Augment(shift=2, flip=True, mixup=0.2)
    cached, steps = tfkd.cache_teacher_views(
        distiller, (x, y), batch_size=128, seed=0, augment=aug, views=8, top_k=5)
    distiller.fit(cached, epochs=30, steps_per_epoch=steps)  # the teacher never runs
    ```
    """
    _check_args(views, top_k, batch_size)
    augment = augment_lib.resolve(augment)
    examples, n = check_examples(examples, "cache_teacher_views")
    if augment is None:
        if views > 1:
            raise ValueError(
                f"cache_teacher_views: views={views} without `augment` would store {views} identical "
                "copies. Fix: pass augment=tfkd.data.Augment(...), or views=1."
            )
        x, y = examples if isinstance(examples, (tuple, list)) and len(examples) == 2 else (None, None)
        if x is None:
            raise ValueError("cache_teacher_views needs `examples=(images, labels)`.")
        pool = (x, y)
    else:
        pool = images_and_labels(examples, augment, "cache_teacher_views")
    classes = int(distiller.student.outputs[0].shape[-1])
    top_k = None if top_k is not None and top_k >= classes else top_k
    layout = _layout(distiller, top_k, classes)
    total, features = cache_size(distiller, n, views, top_k)
    if features > MAX_FEATURE_CACHE_BYTES:
        raise ValueError(
            f"cache_teacher_views: caching the feature taps of {n:,} examples × {views} views needs "
            f"{features / 2**30:.1f} GiB (limit {MAX_FEATURE_CACHE_BYTES / 2**30:.0f} GiB). Fix: use logits-only "
            "losses (SoftLabels) with the cache, fewer views, or online distillation for feature losses."
        )
    if verbose:
        print(
            f"tfkd: teacher cache of {n:,} examples × {views} views"
            f"{f' × top-{top_k}' if top_k else ''}: {total / 2**20:.1f} MiB"
        )

    path = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(
            cache_dir, f"views_{fingerprint.views(distiller, examples, augment, views, top_k, seed)}.npz"
        )
    if path and os.path.exists(path):
        store = _load(path, layout, views, n)
    else:
        store = _fill(distiller, examples, pool, augment, views, batch_size, seed, top_k, layout, verbose)
        if path:
            _save(store, path)
    plan = _Replay(examples, pool, augment, views, batch_size, seed, classes, len(distiller.get_teachers()))
    return _replay(plan, store, first_epoch, steps_per_epoch)


@dataclasses.dataclass(frozen=True)
class _Replay:
    """What the replay of a filled cache needs besides the store."""

    examples: tuple
    pool: tuple
    augment: object
    views: int
    batch_size: int
    seed: int
    classes: int
    num_teachers: int


def _replay(plan, store, first_epoch, steps_per_epoch):
    """`(dataset, steps)`: endless seeded epochs of `store` from `first_epoch`."""
    (x, y), pool, augment, views, batch_size, seed = (
        plan.examples,
        plan.pool,
        plan.augment,
        plan.views,
        plan.batch_size,
        plan.seed,
    )
    n = int(x.shape[0])
    steps = steps_per_epoch or math.ceil(n / batch_size)
    stored = {k: tf.constant(v) for k, v in store.items()}

    def epoch_batches(epoch):
        order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), epoch])))
        pick = (
            tf.random.stateless_uniform(
                [n], seed=tf.stack([tf.constant(seed + _PICK_SALT, tf.int64), epoch]), maxval=views, dtype=tf.int64
            )
            if views > 1
            else tf.zeros([n], tf.int64)
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).take(steps)
        return batches.map(lambda index: (index, tf.gather(pick, index)))

    def replay(index, view):
        index = tf.cast(index, tf.int64)
        images, labels = tf.gather(x, index), tf.gather(y, index)
        if augment is not None:
            images, labels = augment(images, labels, _view_seeds(seed, view, index), pool)
        where = tf.stack([view, index], axis=1)
        outs = [{} for _ in range(plan.num_teachers)]
        for (i, key), values in stored.items():
            value = tf.gather_nd(values, where)
            outs[i][key] = tf.cast(value, tf.int32 if key == topk.TOPK_INDICES else tf.float32)
        teacher = topk.expand(tuple(outs), plan.classes)
        return {CACHED_INPUTS: images, CACHED_TEACHER: teacher, EXAMPLE_INDEX: index}, labels

    dataset = tf.data.Dataset.range(first_epoch, ENDLESS).flat_map(epoch_batches)
    return dataset.map(replay, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE), steps
