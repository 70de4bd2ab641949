"""Relational knowledge distillation: Park, Kim, Lu & Cho, "Relational
Knowledge Distillation" (CVPR 2019).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, flatten_batch, l2_normalize_rows, serializable
from tfkd.validation import finite_number


def _huber(x):
    """Huber with δ = 1, elementwise."""
    a = tf.abs(x)
    return tf.where(a < 1.0, 0.5 * tf.square(x), a - 0.5)


def _normalised_distances(f):
    """Pairwise Euclidean distances divided by the mean off-diagonal one."""
    sq = tf.reduce_sum(tf.square(f), axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * tf.matmul(f, f, transpose_b=True)
    b = tf.shape(f)[0]
    off = 1.0 - tf.eye(b)
    # The clamp keeps sqrt's gradient finite on the (zeroed) diagonal.
    d = tf.sqrt(tf.maximum(d2, 1e-12)) * off
    n = tf.cast(b * (b - 1), "float32")
    mean = tf.reduce_sum(d) / tf.maximum(n, 1.0)
    return d / tf.maximum(mean, 1e-12)


def _angles(f):
    """Cos of the angle at j between e_i − e_j and e_k − e_j, shape (B,B,B)."""
    e = l2_normalize_rows(f[None, :, :] - f[:, None, :])  # e[j, i] = unit(f_i − f_j)
    return tf.matmul(e, e, transpose_b=True)  # [j, i, k]


@serializable
class RelationalKD(DistillationLoss):
    """Matches the distance and angle structure of a batch of features.

    Features are flattened to `(B, D)`. Distance term: pairwise Euclidean
    distances, each matrix divided by the mean of its off-diagonal entries;
    Huber (δ = 1) between the two `B×B` matrices, averaged over all `B²`
    entries. Angle term: for every `(i, j, k)`, the cosine between the unit
    vectors `e_i − e_j` and `e_k − e_j` (zero where `i = j` or `k = j`); Huber
    (δ = 1) averaged over all `B³` entries. Loss = `distance_weight · dist +
    angle_weight · angle`. Invariant to a uniform scaling of the features.
    The angle term costs O(B²·D) memory.

    Args:
        teacher_layer: tap path in the teacher (any rank; flattened).
        student_layer: tap path in the student (widths may differ).
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        distance_weight: weight of the distance term. Defaults to 25.0.
        angle_weight: weight of the angle term. Defaults to 50.0.
        name: metric name. Defaults to `"rkd_<student_layer>"`.

    Raises:
        ValueError: for negative or non-finite term weights.

    Example:

    ```python
    rkd = tfkd.losses.RelationalKD("t_embed", "s_embed")
    ```
    """

    default_name = "relational_kd"

    def __init__(self, teacher_layer, student_layer, weight=1.0, distance_weight=25.0, angle_weight=50.0, name=None):
        name = name or f"rkd_{str(student_layer).replace('/', '_').replace(':', '_')}"
        super().__init__(teacher_layer, student_layer, weight=weight, name=name)
        self.distance_weight = finite_number(distance_weight, "distance_weight")
        self.angle_weight = finite_number(angle_weight, "angle_weight")

    def compute(self, teacher, student, step=None):
        """The weighted distance and angle terms (see the class docstring)."""
        t, s = flatten_batch(teacher), flatten_batch(student)
        loss = 0.0
        if self.distance_weight:
            dist = tf.reduce_mean(_huber(_normalised_distances(s) - _normalised_distances(t)))
            loss += self.distance_weight * dist
        if self.angle_weight:
            angle = tf.reduce_mean(_huber(_angles(s) - _angles(t)))
            loss += self.angle_weight * angle
        return loss

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {**super().get_config(), "distance_weight": self.distance_weight, "angle_weight": self.angle_weight}
