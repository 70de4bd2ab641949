"""DIST: Huang, You, Wang, Qian & Xu, "Knowledge Distillation from A Stronger
Teacher" (NeurIPS 2022).
"""

import tensorflow as tf

from tfkd.losses.base import DistillationLoss, serializable
from tfkd.losses.schedule import Scheduled
from tfkd.validation import finite_number

# Added to the norms of the centred vectors, as in the paper's code, so a
# constant vector (zero variance) gives a correlation of 0, not NaN.
EPSILON = 1e-8


def pearson(a, b, axis):
    """Pearson correlation of `a` and `b` along `axis`.

    Args:
        a: a float tensor.
        b: a float tensor of the same shape.
        axis: the axis the correlation runs over (the others are batched).

    Returns:
        The correlations, `axis` reduced away.
    """
    a = a - tf.reduce_mean(a, axis=axis, keepdims=True)
    b = b - tf.reduce_mean(b, axis=axis, keepdims=True)
    num = tf.reduce_sum(a * b, axis=axis)
    den = tf.norm(a, axis=axis) * tf.norm(b, axis=axis) + EPSILON
    return num / den


@serializable
class DIST(DistillationLoss):
    """Matches the teacher's predictions by correlation, not by value.

    With `p = softmax(t/T)` and `q = softmax(s/T)` over a batch `(B, K)`:

        inter = 1 − mean_i pearson(q[i, :], p[i, :])   (each example's class ranking)
        intra = 1 − mean_k pearson(q[:, k], p[:, k])   (each class's ranking of the batch)
        loss  = T² · (β · inter + γ · intra)

    A linear relation between student and teacher probabilities is enough
    for a zero loss, so a small student need not reproduce a much stronger
    teacher's exact confidence: DIST was built for the large capacity gaps
    where KD stalls. With several teachers the loss is the weighted mean of
    the per-teacher losses.

    Args:
        temperature: T > 0, a number or a schedule. Defaults to 1.0 (the
            paper's ImageNet setting; it uses T = 4 on CIFAR-100).
        beta: weight of the inter-class term, >= 0. Defaults to 1.0.
        gamma: weight of the intra-class term, >= 0. Defaults to 1.0 (the
            paper's CIFAR-100 setting is β = γ = 2).
        weight: the term's weight (>= 0, number or schedule). Defaults to
            1.0.
        name: metric name. Defaults to "dist".

    Raises:
        ValueError: for a temperature <= 0, a negative or non-finite beta
            or gamma, or a bad weight.

    Example:

    ```python
    loss = tfkd.losses.DIST(temperature=4.0, beta=2.0, gamma=2.0)
    distiller = tfkd.Distiller(teacher, student, losses=[loss], student_loss_weight=1.0)
    ```
    """

    default_name = "dist"

    def __init__(self, temperature=1.0, beta=1.0, gamma=1.0, weight=1.0, name="dist"):
        super().__init__(None, None, weight=weight, name=name)
        self.temperature = Scheduled(temperature, "temperature", 0.0, strict=True)
        self.beta = finite_number(beta, "beta")
        self.gamma = finite_number(gamma, "gamma")

    def compute(self, teacher, student, step=None):
        """`T² · (β · inter + γ · intra)` on the batch's softened predictions."""
        t = self.temperature(step)
        p = tf.nn.softmax(teacher / t, axis=-1)
        q = tf.nn.softmax(student / t, axis=-1)
        inter = 1.0 - tf.reduce_mean(pearson(q, p, axis=1))
        intra = 1.0 - tf.reduce_mean(pearson(q, p, axis=0))
        return tf.square(t) * (self.beta * inter + self.gamma * intra)

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {
            "temperature": self.temperature.get_config(),
            "beta": self.beta,
            "gamma": self.gamma,
            "weight": self.weight.get_config(),
            "name": self.name,
        }
