"""Similarity-preserving distillation: Tung & Mori, "Similarity-Preserving
Knowledge Distillation" (ICCV 2019).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, flatten_batch, l2_normalize_rows, serializable


@serializable
class SimilarityPreserving(DistillationLoss):
    """Matches the row-normalised Gram matrices of a batch of features.

    Features flattened to `(B, D)`; `G = f fᵀ`, each row L2-normalised;
    loss = `‖G_t − G_s‖²_F / B²`. Widths may differ.

    Args:
        teacher_layer: tap path in the teacher.
        student_layer: tap path in the student.
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        name: metric name. Defaults to `"sp_<student_layer>"`.

    Example:

    ```python
    sp = tfkd.losses.SimilarityPreserving("t_block3", "s_block2", weight=3000.0)
    ```
    """

    default_name = "similarity_preserving"

    def __init__(self, teacher_layer, student_layer, weight=1.0, name=None):
        name = name or f"sp_{str(student_layer).replace('/', '_').replace(':', '_')}"
        super().__init__(teacher_layer, student_layer, weight=weight, name=name)

    def compute(self, teacher, student, step=None):
        """Squared distance of the two row-normalised Gram matrices, over B²."""
        t, s = flatten_batch(teacher), flatten_batch(student)
        g_t = l2_normalize_rows(tf.matmul(t, t, transpose_b=True))
        g_s = l2_normalize_rows(tf.matmul(s, s, transpose_b=True))
        b = tf.cast(tf.shape(t)[0], "float32")
        return tf.reduce_sum(tf.square(g_t - g_s)) / tf.square(b)
