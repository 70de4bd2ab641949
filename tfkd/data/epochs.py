"""Training batches whose order and augmentation are pure functions of
(seed, epoch, example).
"""

import math

import tensorflow as tf

from tfkd.batch_check import CACHED_INPUTS, EXAMPLE_INDEX
from tfkd.data import augment as augment_lib

ENDLESS = 2**62


def check_examples(examples, who="seeded_epochs"):
    """Tensors of `examples` and their common length; a clear error if the
    parts are not arrays of one common, non-zero length.
    """
    try:
        parts = [tf.convert_to_tensor(t) for t in tf.nest.flatten(examples)]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{who} needs arrays (e.g. `(images, labels)`), got {type(examples).__name__}: {e}") from None
    lengths = {int(p.shape[0]) if p.shape.rank else 0 for p in parts}
    if not parts or len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{who} needs parts with one common, non-zero length; got lengths {sorted(lengths)}.")
    return tf.nest.pack_sequence_as(examples, parts), lengths.pop()


def images_and_labels(examples, augment, who):
    """Checks that `examples` is `(float images, labels)` as `augment` needs."""
    if not (isinstance(examples, (tuple, list)) and len(examples) == 2):
        raise ValueError(
            f"{who} with `augment` needs `examples=(images, labels)`, got a {type(examples).__name__}"
            f" of {len(tf.nest.flatten(examples))} parts."
        )
    x, y = examples
    if not x.dtype.is_floating or x.shape.rank != 4:
        raise ValueError(
            f"{who} with `augment` needs float images of shape (N, H, W, C), got {x.dtype.name} "
            f"{tuple(x.shape)}. Fix: tfkd.data.to_float(images) (uint8 -> float32 in [0, 1])."
        )
    if y.dtype.is_floating or y.shape.rank != 1:
        raise ValueError(
            f"{who} with `augment` needs integer class labels of shape (N,), got {y.dtype.name} {tuple(y.shape)}."
        )
    augment_lib.check_deterministic(augment, x[:8], y[:8], (x, y))
    return x, y


def seeded_epochs(examples, batch_size, seed=0, first_epoch=0, steps_per_epoch=None, augment=None, with_indices=False):
    """An endless dataset of shuffled (and augmented) batches, epoch after epoch.

    Epoch `e` visits the examples in an order drawn from the stateless seed
    `(seed, e)`, and with `augment` transforms example `i` with the seed
    `(seed, e, i)`, so a run resumed at epoch `e` in a new process sees
    exactly the batches an uninterrupted run would have seen. Because every
    example has its own seed, the teacher and the student of a Distiller see
    the same augmented image (consistent teaching, Beyer et al. 2022). Pass
    the result to `fit(..., steps_per_epoch=steps)`.

    Args:
        examples: a nested structure of arrays or tensors sharing their first
            (example) dimension, e.g. `(images, labels)`; with `augment`,
            exactly `(float images, integer labels)`.
        batch_size: examples per batch (the last batch of an epoch may be
            smaller).
        seed: integer seed.
        first_epoch: the epoch to start at (from a checkpoint).
        steps_per_epoch: batches per epoch. Defaults to all of them.
        augment: a `tfkd.data.Augment` (or a deterministic callable with its
            signature). With mixup, labels come out as mixed one-hot vectors.
            Defaults to None (no augmentation).
        with_indices: yield `({"tfkd_inputs": x, "tfkd_index": i}, y)`, each
            example with its index in `examples`, for the losses that keep
            per-example state (`tfkd.losses.CRD`). Needs `(x, y)` examples.
            Defaults to False.

    Returns:
        `(dataset, steps_per_epoch)`.

    Raises:
        ValueError: if the structure is empty, its parts differ in length, or
            `augment` is not usable with them.

    Example:

    ```python
    aug = tfkd.data.Augment(shift=2, flip=True)
    ds, steps = seeded_epochs((x, y), 128, seed=0, first_epoch=3, augment=aug)
    model.fit(ds, epochs=10, initial_epoch=3, steps_per_epoch=steps)
    ```
    """
    examples, n = check_examples(examples)
    augment = augment_lib.resolve(augment)
    pool = images_and_labels(examples, augment, "seeded_epochs") if augment else None
    steps = steps_per_epoch or math.ceil(n / batch_size)

    def epoch_order(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).take(steps)
        return batches.map(lambda index: (epoch, index))

    if with_indices and not (isinstance(examples, tuple) and len(examples) == 2):
        raise ValueError("seeded_epochs(with_indices=True) needs examples of the form (inputs, labels).")

    def gather(epoch, index):
        batch = tf.nest.map_structure(lambda t: tf.gather(t, index), examples)
        if augment is not None:
            x, y = batch
            batch = augment(x, y, augment_lib.example_seeds(seed, epoch, index), pool)
        if with_indices:
            x, y = batch
            batch = ({CACHED_INPUTS: x, EXAMPLE_INDEX: tf.cast(index, tf.int64)}, y)
        return batch

    dataset = tf.data.Dataset.range(first_epoch, ENDLESS).flat_map(epoch_order)
    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE), steps
