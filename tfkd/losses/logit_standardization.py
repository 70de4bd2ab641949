"""Logit standardization: Sun, Ren, Li, Wang & Cao, "Logit Standardization in
Knowledge Distillation" (CVPR 2024).
"""

import tensorflow as tf

# Added to the standard deviation, as in the paper, so constant logits stay finite.
EPSILON = 1e-7


def standardize(logits):
    """Z-scores each example's logits: `(z − mean(z)) / (std(z) + 1e-7)`.

    The mean and the (population) standard deviation are taken over the
    classes of each example, so teacher and student logits of any scale and
    offset are compared by their shape alone; the temperature then divides
    the standardized logits.

    Args:
        logits: float tensor `(..., classes)`.

    Returns:
        A tensor of the same shape and dtype, each row of mean 0 and
        standard deviation 1 (0 for a constant row).

    Example:

    ```python
    z = standardize(tf.constant([[1.0, 2.0, 3.0]]))  # [[-1.2247, 0, 1.2247]]
    ```
    """
    mean = tf.reduce_mean(logits, axis=-1, keepdims=True)
    centred = logits - mean
    std = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True))
    return centred / (std + EPSILON)
