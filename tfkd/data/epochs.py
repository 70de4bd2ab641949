"""Training batches whose order is a pure function of (seed, epoch)."""

import math

import tensorflow as tf

_ENDLESS = 2**62


def seeded_epochs(examples, batch_size, seed=0, first_epoch=0, steps_per_epoch=None):
    """An endless dataset of shuffled batches, epoch after epoch.

    Epoch `e` visits the examples in an order drawn from the stateless seed
    `(seed, e)`, so a run resumed at epoch `e` in a new process sees exactly
    the batches an uninterrupted run would have seen. Pass the result to
    `fit(..., steps_per_epoch=steps)`.

    Args:
        examples: a nested structure of arrays or tensors sharing their first
            (example) dimension, e.g. `(images, labels)`.
        batch_size: examples per batch (the last batch of an epoch may be
            smaller).
        seed: integer seed.
        first_epoch: the epoch to start at (from a checkpoint).
        steps_per_epoch: batches per epoch. Defaults to all of them.

    Returns:
        `(dataset, steps_per_epoch)`.

    Raises:
        ValueError: if the structure is empty or its parts differ in length.

    Example:

    ```python
    ds, steps = seeded_epochs((x, y), 128, seed=0, first_epoch=3)
    model.fit(ds, epochs=10, initial_epoch=3, steps_per_epoch=steps)
    ```
    """
    parts = [tf.convert_to_tensor(t) for t in tf.nest.flatten(examples)]
    lengths = {int(p.shape[0]) for p in parts}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"seeded_epochs needs parts with one common, non-zero length; got lengths {sorted(lengths)}.")
    n = lengths.pop()
    examples = tf.nest.pack_sequence_as(examples, parts)
    steps = steps_per_epoch or math.ceil(n / batch_size)

    def epoch_order(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).take(steps)

    def gather(index):
        return tf.nest.map_structure(lambda t: tf.gather(t, index), examples)

    dataset = tf.data.Dataset.range(first_epoch, _ENDLESS).flat_map(epoch_order)
    return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE), steps
