"""The base class of every distillation loss."""

import keras
import tensorflow as tf

from tfkd.losses.schedule import Scheduled


class DistillationLoss:
    """A distillation term between a teacher tensor and a student tensor.

    Subclasses implement `compute(teacher, student, step)` on float32 tensors.
    Calling the loss, `loss(teacher, student, step)`, casts both tensors to
    float32 first (so float16 features of a mixed-precision model never
    overflow inside the loss) and returns the **unweighted** float32 scalar;
    the `Distiller` applies `weight`. With several teachers, a logits-level
    loss is computed by `over_teachers` (the weighted mean over teachers
    unless a subclass combines them otherwise).

    To write your own loss, subclass it and implement `compute`:

    ```python
    class LogitMSE(tfkd.losses.DistillationLoss):
        default_name = "logit_mse"

        def compute(self, teacher, student, step=None):
            return tf.reduce_mean(tf.square(teacher - student))

    distiller = tfkd.Distiller(teacher, student, losses=[LogitMSE(weight=0.5)])
    ```

    **Labels and example indices.** A loss that needs the true labels sets
    the class attribute `needs_labels = True`: its `compute` then receives
    `labels=`, float32 label vectors `(B, classes)` (sparse labels one-hot
    encoded; one-hot or mixup-mixed label vectors as the data gives them).
    A loss that needs each example's index in the dataset (a memory bank,
    as in CRD) sets `needs_indices = True` and receives `indices=`, int64
    `(B,)`. The Distiller refuses data that does not carry them before any
    step:

    ```python
    class TargetMargin(tfkd.losses.DistillationLoss):
        needs_labels = True

        def compute(self, teacher, student, step=None, labels=None):
            gap = tf.reduce_sum(labels * (teacher - student), axis=-1)
            return tf.reduce_mean(tf.square(gap))
    ```

    Args:
        teacher_layer: tap path in the teacher, or None for its logits.
        student_layer: tap path in the student, or None for its logits.
        weight: the term's weight, a number >= 0 or a schedule of the step.
            Defaults to 1.0.
        name: the metric name of the term.

    Raises:
        ValueError: for a negative, NaN or infinite weight.
    """

    default_name = "distillation"
    needs_labels = False
    needs_indices = False

    def __init__(self, teacher_layer=None, student_layer=None, weight=1.0, name=None):
        for arg, value in (("teacher_layer", teacher_layer), ("student_layer", student_layer)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(
                    f"`{arg}` must be a layer name or path (a non-empty string) or None for the logits, got {value!r}."
                )
        self.teacher_layer = teacher_layer
        self.student_layer = student_layer
        self.weight = Scheduled(weight, "weight", minimum=0.0)
        self.name = name or self.default_name

    @property
    def layers(self):
        """Trainable Keras layers owned by the loss (adapters). Empty here."""
        return []

    def schedules(self):
        """The loss's scheduled hyper-parameters other than `weight`.

        Returns:
            A dict `{attribute name: Scheduled}` of every attribute holding a
            `Scheduled` value that changes with the step (the Distiller logs
            each as `<loss name>_<attribute>`). Plain numbers a subclass
            stores (`self.temperature = 3.0`) are not included.
        """
        return {k: v for k, v in vars(self).items() if k != "weight" and isinstance(v, Scheduled) and not v.is_constant}

    def build(self, teacher_shape, student_shape):
        """Creates any state from the static shapes. Validates by default."""
        del teacher_shape, student_shape

    def compute(self, teacher, student, step=None):
        """The unweighted loss on float32 tensors; subclasses implement it."""
        raise NotImplementedError

    def _extras(self, labels, indices):
        """The keyword arguments `compute` asked for, checked."""
        extras = {}
        if self.needs_labels:
            if labels is None:
                raise ValueError(
                    f"Loss {self.name!r} needs the true labels, but none were given. Fix: pass labels=... "
                    "(the Distiller passes the labels of every training batch)."
                )
            extras["labels"] = tf.stop_gradient(tf.cast(labels, "float32"))
        if self.needs_indices:
            if indices is None:
                raise ValueError(
                    f"Loss {self.name!r} needs each example's index in the dataset, but none were given. Fix: "
                    "pass indices=... (the Distiller passes them from data made with "
                    "tfkd.data.seeded_epochs(..., with_indices=True) or tfkd.cache_teacher_views)."
                )
            extras["indices"] = tf.cast(indices, "int64")
        return extras

    def __call__(self, teacher, student, step=None, labels=None, indices=None):
        """Returns the unweighted float32 loss.

        Args:
            teacher: teacher tensor (any float dtype).
            student: student tensor (any float dtype).
            step: the training step, for scheduled hyper-parameters.
            labels: float label vectors `(B, classes)`, passed on to
                `compute` when the loss has `needs_labels`.
            indices: int64 example indices `(B,)`, passed on when the loss
                has `needs_indices`.

        Returns:
            A float32 scalar tensor.

        Raises:
            ValueError: if the loss needs labels or indices that are None.
        """
        extras = self._extras(labels, indices)
        teacher = tf.stop_gradient(_to_float32(teacher))
        student = _to_float32(student)
        return tf.cast(self.compute(teacher, student, step, **extras), "float32")

    def over_teachers(self, teachers, student, step=None, teacher_weights=None, labels=None, indices=None):
        """The loss against several teachers' logits: by default the weighted
        mean of the per-teacher losses. The Distiller calls it for a
        logits-level loss when it has several teachers; a loss that combines
        teachers differently (SoftLabels mixes their probabilities)
        overrides it.

        Args:
            teachers: list of teacher tensors, one per teacher.
            student: student tensor.
            step: the training step.
            teacher_weights: one number >= 0 per teacher (normalised to sum
                to 1). Defaults to equal weights.
            labels: as in `__call__`.
            indices: as in `__call__`.

        Returns:
            A float32 scalar tensor.
        """
        weights = [1.0] * len(teachers) if teacher_weights is None else list(teacher_weights)
        total = float(sum(weights))
        return tf.add_n([(w / total) * self(t, student, step, labels, indices) for w, t in zip(weights, teachers)])

    def get_config(self):
        """The constructor arguments, for `from_config` and `tfkd.losses.get`."""
        return {
            "teacher_layer": self.teacher_layer,
            "student_layer": self.student_layer,
            "weight": self.weight.get_config(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds the loss from `get_config()` (schedules included)."""
        config = dict(config)
        for key, value in config.items():
            if isinstance(value, dict) and "class_name" in value:
                config[key] = Scheduled.from_config(value)
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _to_float32(x):
    if isinstance(x, (list, tuple)):
        return [_to_float32(v) for v in x]
    return tf.cast(x, "float32")


def flatten_batch(x):
    """Reshapes `(B, ...)` to `(B, D)`."""
    return tf.reshape(x, [tf.shape(x)[0], -1])


def l2_normalize_rows(x, epsilon=1e-12):
    """Divides each row by its L2 norm (rows of zeros stay zero)."""
    # rsqrt of a clamped square keeps the gradient finite at a zero row.
    sumsq = tf.reduce_sum(tf.square(x), axis=-1, keepdims=True)
    return x * tf.math.rsqrt(tf.maximum(sumsq, epsilon**2))


def serializable(cls):
    """Registers a loss class for Keras serialisation under package `tfkd`."""
    return keras.saving.register_keras_serializable(package="tfkd")(cls)
