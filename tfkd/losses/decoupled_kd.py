"""Decoupled knowledge distillation: Zhao, Cui, Song, Qiu & Liang, "Decoupled
Knowledge Distillation" (CVPR 2022).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, serializable
from tfkd.losses.logit_standardization import standardize
from tfkd.losses.schedule import Scheduled
from tfkd.validation import finite_number


def target_mask(labels):
    """The target class of each example as a one-hot float mask `(B, K)`.

    With one-hot labels it is the labelled class; with mixed labels
    (mixup), the class of largest label weight, i.e. the class of the image
    that dominates the mix (weight >= 1/2). Ties go to the lower class.
    """
    return tf.one_hot(tf.argmax(labels, axis=-1), tf.shape(labels)[-1], dtype=tf.float32)


# How DKD reads mixed labels: the dominant class alone, or the label-weighted
# sum over the two classes of largest label weight.
MIXED_LABELS = ("dominant", "weighted")


def two_targets(labels):
    """The two classes of largest label weight and their weights.

    Mixup and CutMix labels mix at most two classes, `λ·y_a + (1 − λ)·y_b`;
    a one-hot label is the case λ = 1 (the second class then has weight 0).

    Args:
        labels: label vectors `(B, K)`, K >= 2.

    Returns:
        `[(mask, weight), (mask, weight)]`: one-hot float masks `(B, K)` of
        the largest and second-largest label weight (ties to the lower
        class) and the two weights `(B,)`, renormalised to sum to 1 per
        example.
    """
    labels = tf.cast(labels, tf.float32)
    weights, classes = tf.math.top_k(labels, k=2)
    weights = tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))
    depth = tf.shape(labels)[-1]
    return [(tf.one_hot(classes[:, i], depth, dtype=tf.float32), weights[:, i]) for i in range(2)]


def _kl(log_p, log_q):
    """Σ p (log p − log q) over the last axis; terms with p = 0 are 0."""
    p = tf.exp(log_p)
    return tf.reduce_sum(tf.where(p > 0, p * (log_p - log_q), 0.0), axis=-1)


def dkd_parts(teacher, student, labels, temperature, mask=None):
    """Per-example TCKD, NCKD and the teacher's target probability.

    Args:
        teacher: teacher logits `(B, K)`, float32.
        student: student logits `(B, K)`, float32.
        labels: label vectors `(B, K)` (see `target_mask`).
        temperature: T > 0.
        mask: the target class as a one-hot mask `(B, K)`; None: from
            `labels` by `target_mask`.

    Returns:
        `(tckd, nckd, p_target)`, each `(B,)`, without the T² factor:
        `tckd = KL([p_t, 1 − p_t] ‖ [q_t, 1 − q_t])` on the binary
        target/non-target split of the softened probabilities, `nckd = KL(p̂
        ‖ q̂)` between the softened distributions over the non-target classes
        (each renormalised to sum to 1), and `p_target` the teacher's
        softened probability of the target class. Exactly
        `KL(p ‖ q) = tckd + (1 − p_target) · nckd`.
    """
    mask = target_mask(labels) if mask is None else mask
    log_p = tf.nn.log_softmax(teacher / temperature, axis=-1)
    log_q = tf.nn.log_softmax(student / temperature, axis=-1)
    # Binary split, in log space: log p_target and log(1 − p_target) as
    # log-sum-exps over the target class and over the others (no 1 − p,
    # which cancels when p_target is close to 1).
    very_negative = tf.constant(-1e30, tf.float32)

    def binary(log_probs):
        target = tf.reduce_logsumexp(tf.where(mask > 0, log_probs, very_negative), axis=-1)
        others = tf.reduce_logsumexp(tf.where(mask > 0, very_negative, log_probs), axis=-1)
        return tf.stack([target, others], axis=-1)

    log_bp, log_bq = binary(log_p), binary(log_q)
    tckd = _kl(log_bp, log_bq)
    # Non-target distributions: the softmax over the other classes alone.
    log_p_hat = tf.nn.log_softmax(tf.where(mask > 0, very_negative, teacher / temperature), axis=-1)
    log_q_hat = tf.nn.log_softmax(tf.where(mask > 0, very_negative, student / temperature), axis=-1)
    nckd = _kl(log_p_hat, log_q_hat)
    return tckd, nckd, tf.exp(log_bp[:, 0])


@serializable
class DecoupledKD(DistillationLoss):
    """KD split into its target-class and non-target-class parts (DKD).

    Hinton's KL at temperature T decomposes exactly as
    `KL(p ‖ q) = TCKD + (1 − p_target) · NCKD`: TCKD compares the binary
    probabilities of the target class against the rest, NCKD the
    distributions over the non-target classes. The factor `1 − p_target`
    suppresses NCKD exactly where the teacher is confident; DKD weights the
    two freely:

        loss = T² · mean_batch(α · TCKD + β · NCKD) · min(1, step / warmup_steps)

    With mixed labels (mixup, CutMix: `λ·y_a + (1 − λ)·y_b`), `mixed_labels`
    says what the target class is: "dominant" takes the class of largest
    label weight (`target_mask`), so the other image's class counts as a
    non-target class; "weighted" computes DKD once with each of the two
    classes of largest weight as the target and sums the two with their
    label weights, `λ·DKD(a) + (1 − λ)·DKD(b)`, as mixup mixes the
    cross-entropy (Zhang et al. 2018). Both are the same for one-hot
    labels. Needs the true labels: the Distiller passes them
    (`needs_labels`).

    Args:
        temperature: T > 0, a number or a schedule. Defaults to 4.0 (the
            paper's CIFAR setting).
        alpha: weight of TCKD, >= 0. Defaults to 1.0.
        beta: weight of NCKD, >= 0. Defaults to 8.0 (the paper's CIFAR-100
            ResNet32x4 → ResNet8x4 setting; 0.5 to 8 across its tables).
        warmup_steps: the term grows linearly from 0 to its full value
            over the first `warmup_steps` steps (the paper warms up over 20
            epochs). 0: no warm-up. Defaults to 0.
        standardize: z-score both logits before the temperature (logit
            standardization, Sun et al. 2024). Defaults to False.
        weight: the term's weight (>= 0, number or schedule). Defaults to
            1.0.
        name: metric name. Defaults to "dkd".
        mixed_labels: "dominant" or "weighted", the target class of an
            example with mixed labels (above). Defaults to "dominant".

    Raises:
        ValueError: for a temperature <= 0, a negative or non-finite
            alpha or beta, a warmup_steps that is not a whole number >= 0,
            a `mixed_labels` other than "dominant" or "weighted", or a bad
            weight.

    Example:

    ```python
    loss = tfkd.losses.DecoupledKD(temperature=4.0, alpha=1.0, beta=8.0, warmup_steps=2000)
    distiller = tfkd.Distiller(teacher, student, losses=[loss], student_loss_weight=1.0)
    ```
    """

    default_name = "dkd"
    needs_labels = True

    def __init__(
        self,
        temperature=4.0,
        alpha=1.0,
        beta=8.0,
        warmup_steps=0,
        standardize=False,
        weight=1.0,
        name="dkd",
        mixed_labels="dominant",
    ):
        super().__init__(None, None, weight=weight, name=name)
        self.temperature = Scheduled(temperature, "temperature", 0.0, strict=True)
        self.alpha = finite_number(alpha, "alpha")
        self.beta = finite_number(beta, "beta")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be a whole number >= 0, got {warmup_steps!r}.")
        self.warmup_steps = warmup_steps
        if not isinstance(standardize, bool):
            raise ValueError(f"`standardize` must be True or False, got {standardize!r}.")
        self.standardize = standardize
        if mixed_labels not in MIXED_LABELS:
            raise ValueError(
                f"`mixed_labels` must be one of {list(MIXED_LABELS)} (the target class of an example with mixed "
                f"labels), got {mixed_labels!r}."
            )
        self.mixed_labels = mixed_labels

    def warmup(self, step):
        """The warm-up factor `min(1, step / warmup_steps)` (1 without warm-up)."""
        if not self.warmup_steps or step is None:
            return tf.constant(1.0, tf.float32)
        return tf.minimum(1.0, tf.cast(step, tf.float32) / float(self.warmup_steps))

    def compute(self, teacher, student, step=None, labels=None):
        """`T² · mean(α·TCKD + β·NCKD)`, times the warm-up factor."""
        t = self.temperature(step)
        if self.standardize:
            teacher, student = standardize(teacher), standardize(student)
        per_example = 0.0
        targets = [(target_mask(labels), 1.0)] if self.mixed_labels == "dominant" else two_targets(labels)
        for mask, share in targets:
            tckd, nckd, _ = dkd_parts(teacher, student, labels, t, mask=mask)
            per_example += share * (self.alpha * tf.maximum(tckd, 0.0) + self.beta * tf.maximum(nckd, 0.0))
        return self.warmup(step) * tf.square(t) * tf.reduce_mean(per_example)

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {
            "temperature": self.temperature.get_config(),
            "alpha": self.alpha,
            "beta": self.beta,
            "warmup_steps": self.warmup_steps,
            "standardize": self.standardize,
            "weight": self.weight.get_config(),
            "name": self.name,
            "mixed_labels": self.mixed_labels,
        }
