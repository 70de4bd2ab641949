"""Attention transfer: Zagoruyko & Komodakis, "Paying More Attention to
Attention" (ICLR 2017).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, flatten_batch, l2_normalize_rows, serializable


@serializable
class AttentionTransfer(DistillationLoss):
    """Matches the normalised spatial attention maps of two feature maps.

    For `F` of shape `(B, H, W, C)`: `A = mean_C(F²)`, flattened to
    `(B, H·W)` and L2-normalised per example. Loss = mean over batch and
    positions of `(a_s − a_t)²`. A student map of another spatial size is
    resized (bilinear) to the teacher's before normalising. Channels may
    differ; no adapter is needed.

    Args:
        teacher_layer: tap path of a rank-4 teacher feature map.
        student_layer: tap path of a rank-4 student feature map.
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        name: metric name. Defaults to `"at_<student_layer>"`.

    Raises:
        ValueError: at build time, if either feature is not rank 4.

    Example:

    ```python
    at = tfkd.losses.AttentionTransfer("t_block2", "s_block2", weight=1000.0)
    ```
    """

    default_name = "attention_transfer"

    def __init__(self, teacher_layer, student_layer, weight=1.0, name=None):
        name = name or f"at_{str(student_layer).replace('/', '_').replace(':', '_')}"
        super().__init__(teacher_layer, student_layer, weight=weight, name=name)

    def build(self, teacher_shape, student_shape):
        """Checks that both features are maps with matching spatial size."""
        if len(teacher_shape) != 4 or len(student_shape) != 4:
            raise ValueError(
                f"AttentionTransfer {self.name!r} needs rank-4 feature maps "
                f"(B, H, W, C); got teacher {tuple(teacher_shape)} and student "
                f"{tuple(student_shape)}. Fix: tap convolutional layers."
            )

    def compute(self, teacher, student, step=None):
        """The attention-map distance (see the class docstring)."""
        a_t = tf.reduce_mean(tf.square(teacher), axis=-1, keepdims=True)
        a_s = tf.reduce_mean(tf.square(student), axis=-1, keepdims=True)
        if a_s.shape[1:3] != a_t.shape[1:3]:
            a_s = tf.image.resize(a_s, tf.shape(a_t)[1:3], method="bilinear")
        a_t = l2_normalize_rows(flatten_batch(a_t))
        a_s = l2_normalize_rows(flatten_batch(a_s))
        return tf.reduce_mean(tf.square(a_s - a_t))
