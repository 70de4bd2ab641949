"""Probabilistic knowledge transfer: Passalis & Tefas, "Learning Deep
Representations with Probabilistic Knowledge Transfer" (ECCV 2018).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, flatten_batch, l2_normalize_rows, serializable

_EPS = 1e-7


def _conditional(f):
    f = l2_normalize_rows(f)
    sim = (tf.matmul(f, f, transpose_b=True) + 1.0) / 2.0
    return sim / tf.reduce_sum(sim, axis=1, keepdims=True)


@serializable
class ProbabilisticKT(DistillationLoss):
    """Matches the cosine-similarity conditional distributions of a batch.

    Features flattened and L2-normalised per example; `S = (f fᵀ + 1) / 2`,
    each row divided by its sum; loss = mean over all `B²` entries of
    `p_t · log((p_t + 1e-7) / (p_s + 1e-7))`. Widths may differ.

    Args:
        teacher_layer: tap path in the teacher.
        student_layer: tap path in the student.
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        name: metric name. Defaults to `"pkt_<student_layer>"`.

    Example:

    ```python
    pkt = tfkd.losses.ProbabilisticKT("t_embed", "s_embed", weight=30000.0)
    ```
    """

    default_name = "probabilistic_kt"

    def __init__(self, teacher_layer, student_layer, weight=1.0, name=None):
        name = name or f"pkt_{str(student_layer).replace('/', '_').replace(':', '_')}"
        super().__init__(teacher_layer, student_layer, weight=weight, name=name)

    def compute(self, teacher, student, step=None):
        """KL between the two conditional similarity distributions of the batch."""
        p_t = _conditional(flatten_batch(teacher))
        p_s = _conditional(flatten_batch(student))
        kl = tf.reduce_mean(p_t * tf.math.log((p_t + _EPS) / (p_s + _EPS)))
        # When the distributions agree, rounding and the eps smoothing can
        # put this a hair below 0 (found by the fuzz test); a divergence is
        # >= 0, so clip.
        return tf.maximum(kl, 0.0)
