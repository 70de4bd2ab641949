"""Feature hints: Romero et al., "FitNets: Hints for Thin Deep Nets" (2015)."""

import tensorflow as tf

from tfkd.losses.adapters import make_adapter
from tfkd.losses.base import DistillationLoss, serializable


@serializable
class FeatureHint(DistillationLoss):
    """Mean squared error between a teacher feature and an adapted student one.

    `mean((t − r(s))²)` over every element, where `r` is a trainable adapter
    (FitNets' regressor) mapping the student's feature to the teacher's shape:
    see `tfkd.losses.adapters.make_adapter`. The adapter is trained with the
    student but is not part of it (not in `distiller.student`, not exported).

    Args:
        teacher_layer: tap path in the teacher (e.g. `"t_block2"`).
        student_layer: tap path in the student (e.g. `"s_block1"`).
        weight: the term's weight (>= 0, number or schedule). Defaults to 1.0.
        adapter: `"auto"` to build an adapter when the shapes differ, or None
            to require equal shapes. Defaults to `"auto"`.
        name: metric name. Defaults to `"hint_<student_layer>"`.

    Raises:
        ValueError: for a bad weight or adapter value; at build time, for
            different shapes with `adapter=None`.

    Example:

    ```python
    hint = tfkd.losses.FeatureHint("t_block2", "s_block1", weight=1.0)
    value = hint(teacher_features, student_features)
    ```
    """

    default_name = "feature_hint"

    def __init__(self, teacher_layer, student_layer, weight=1.0, adapter="auto", name=None):
        if teacher_layer is None or student_layer is None:
            raise ValueError(
                "FeatureHint needs both `teacher_layer` and `student_layer` "
                f"(layer names or paths), got {teacher_layer!r} and "
                f"{student_layer!r}."
            )
        if adapter not in ("auto", None):
            raise ValueError(f"`adapter` must be 'auto' or None, got {adapter!r}.")
        name = name or f"hint_{student_layer.replace('/', '_').replace(':', '_')}"
        super().__init__(teacher_layer, student_layer, weight=weight, name=name)
        self.adapter_mode = adapter
        self.adapter = None
        self.built = False

    @property
    def layers(self):
        """The learnt adapter, once built (empty without one)."""
        return [self.adapter] if self.adapter is not None else []

    def build(self, teacher_shape, student_shape):
        """Creates the adapter from the two feature shapes (or checks they match)."""
        if self.built:
            return
        if self.adapter_mode is None:
            if tuple(teacher_shape[1:]) != tuple(student_shape[1:]):
                raise ValueError(
                    f"FeatureHint {self.name!r} has adapter=None but the "
                    f"teacher feature {self.teacher_layer!r} has shape "
                    f"{tuple(teacher_shape)} and the student feature "
                    f"{self.student_layer!r} has shape {tuple(student_shape)}. "
                    "Fix: pass adapter='auto' to learn a mapping between them."
                )
        else:
            self.adapter = make_adapter(teacher_shape, student_shape, name=f"{self.name}_adapter")
        self.built = True

    def compute(self, teacher, student, step=None):
        """Mean squared error between the teacher's feature and the adapted student's."""
        if not self.built:
            self.build(tuple(teacher.shape), tuple(student.shape))
        if self.adapter is not None:
            student = tf.cast(self.adapter(student), "float32")
        return tf.reduce_mean(tf.square(teacher - student))

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {**super().get_config(), "adapter": self.adapter_mode}
