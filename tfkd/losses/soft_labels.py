"""Soft labels: Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural
Network" (2015).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, serializable
from tfkd.losses.logit_standardization import standardize
from tfkd.losses.schedule import Scheduled


def _precise_where_close(kl, p, delta):
    """Recomputes KL without cancellation for rows where t/T ≈ s/T.

    With δ = (t − s)/T and δ' = δ − E_p[δ], exactly
    KL(p‖q) = log1p(E_p[expm1(−δ')]). For |δ'| <= 1 this avoids subtracting
    two nearly equal log-probabilities, which in float32 leaves an error of
    ~1e-7 that T² then multiplies. Other rows keep the direct form.
    """
    centred = delta - tf.reduce_sum(p * delta, axis=-1, keepdims=True)
    close = tf.reduce_max(tf.abs(centred), axis=-1) <= 1.0
    centred = tf.clip_by_value(centred, -1.0, 1.0)  # finite in unused rows
    precise = tf.math.log1p(tf.reduce_sum(p * tf.math.expm1(-centred), axis=-1))
    return tf.where(close, precise, kl)


@serializable
class SoftLabels(DistillationLoss):
    """KL divergence between teacher and student softmax at temperature T.

    `T² · mean_over_batch KL(softmax(t/T) ‖ softmax(s/T))`, computed from
    log-softmax in float32 (no clipping of probabilities). The T² factor keeps
    the gradient's scale independent of T: the gradient with respect to the
    student logits is `T · (softmax(s/T) − softmax(t/T)) / batch`.

    With several teachers, the target is the weighted average of the
    teachers' softened **probabilities**, each at temperature T.

    With `standardize=True` (logit standardization, Sun et al. 2024) the
    logits of teacher and student are first z-scored per example
    (`tfkd.losses.logit_standardization.standardize`), so the student
    matches the teacher's relative logits without having to match their
    scale; T then divides the standardized logits (the paper's base
    temperature, typically 2 to 4) and T² still scales the loss.

    Args:
        temperature: T > 0, a number or a schedule of the step.
            Defaults to 4.0.
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        name: metric name. Defaults to "soft_labels".
        standardize: z-score the logits before the temperature. Defaults
            to False.

    Raises:
        ValueError: if the temperature is <= 0, NaN or infinite, or the
            weight is negative, NaN or infinite.

    Example:

    ```python
    loss = tfkd.losses.SoftLabels(temperature=4.0)
    value = loss(teacher_logits, student_logits)  # float32 scalar
    ```
    """

    default_name = "soft_labels"

    def __init__(self, temperature=4.0, weight=1.0, name="soft_labels", standardize=False):
        super().__init__(None, None, weight=weight, name=name)
        self.temperature = Scheduled(temperature, "temperature", 0.0, strict=True)
        if not isinstance(standardize, bool):
            raise ValueError(f"`standardize` must be True or False, got {standardize!r}.")
        self.standardize = standardize

    def compute(self, teacher, student, step=None, teacher_weights=None):
        """KL at temperature T; `teacher` may be a list (see `over_teachers`)."""
        t = self.temperature(step)
        teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
        if self.standardize:
            student = standardize(student)
            teachers = [standardize(x) for x in teachers]
        log_q = tf.nn.log_softmax(student / t, axis=-1)
        log_ps = tf.stack([tf.nn.log_softmax(x / t, axis=-1) for x in teachers])
        if len(teachers) == 1:
            log_p = log_ps[0]
        else:
            if teacher_weights is None:
                teacher_weights = [1.0] * len(teachers)
            w = tf.constant(teacher_weights, "float32")
            log_w = tf.math.log(w / tf.reduce_sum(w))
            # log Σ_k w_k p_k, stable even when some p_k underflow.
            log_p = tf.reduce_logsumexp(log_ps + log_w[:, None, None], axis=0)
        p = tf.exp(log_p)
        kl = tf.reduce_sum(p * (log_p - log_q), axis=-1)
        if len(teachers) == 1:
            kl = _precise_where_close(kl, p, (teachers[0] - student) / t)
        # Rounding can leave a KL of -1e-9 where p == q: clamp per example.
        return tf.square(t) * tf.reduce_mean(tf.maximum(kl, 0.0))

    def over_teachers(self, teachers, student, step=None, teacher_weights=None, labels=None, indices=None):
        """KL to the weighted mixture of the teachers' softened probabilities.

        Args:
            teachers: list of teacher logits `(B, K)`.
            student: student logits `(B, K)`.
            step: training step, for a scheduled temperature.
            teacher_weights: weights of the teachers, normalised to sum to 1.
                Defaults to equal weights.
            labels: unused (soft labels need none).
            indices: unused.

        Returns:
            A float32 scalar tensor.
        """
        teachers = [tf.stop_gradient(tf.cast(x, "float32")) for x in teachers]
        return tf.cast(self.compute(teachers, tf.cast(student, "float32"), step, teacher_weights), "float32")

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {
            "temperature": self.temperature.get_config(),
            "weight": self.weight.get_config(),
            "name": self.name,
            "standardize": self.standardize,
        }
