"""A loss hyper-parameter that is a number or a schedule of the training step."""

import math

import keras
import tensorflow as tf


class Scheduled:
    """A float hyper-parameter, constant or a function of the training step.

    Args:
        value: a number, a `keras.optimizers.schedules.LearningRateSchedule`,
            or a plain callable `step -> number`.
        name: the argument's name, for error messages.
        minimum: the smallest allowed value (inclusive unless `strict`).
        strict: if True the value must be strictly greater than `minimum`.

    Raises:
        ValueError: if a constant is NaN, infinite or out of range, or a
            schedule's value at step 0 is.

    Example:

    ```python
    weight = Scheduled(keras.optimizers.schedules.CosineDecay(4.0, 1000, 0.25),
                       "weight", minimum=0.0)
    weight(step)  # float32 tensor
    ```
    """

    def __init__(self, value, name, minimum=0.0, strict=False):
        self.name = name
        self.minimum = minimum
        self.strict = strict
        if isinstance(value, bool) or not (isinstance(value, (int, float)) or callable(value)):
            raise ValueError(
                f"`{name}` must be a number or a schedule of the step "
                f"(a LearningRateSchedule or a callable), got {value!r}."
            )
        self.value = value
        self.check(float(value(0)) if callable(value) else float(value))

    @property
    def is_constant(self):
        """Whether the value is a number rather than a schedule."""
        return not callable(self.value)

    def check(self, number):
        """Raises a ValueError unless `number` is finite and in range."""
        bad = not math.isfinite(number) or (number <= self.minimum if self.strict else number < self.minimum)
        if bad:
            sign = ">" if self.strict else ">="
            raise ValueError(
                f"`{self.name}` must be a finite number {sign} {self.minimum}, "
                f"got {number}. Fix: pass e.g. `{self.name}=1.0`."
            )

    def __call__(self, step=None):
        """Returns the value at `step` as a float32 scalar tensor."""
        if self.is_constant or step is None:
            value = self.value if self.is_constant else self.value(0)
        else:
            value = self.value(step)
        return tf.cast(value, "float32")

    def get_config(self):
        """The number, or the schedule serialised by Keras."""
        if self.is_constant:
            return self.value
        if isinstance(self.value, keras.optimizers.schedules.LearningRateSchedule):
            return keras.saving.serialize_keras_object(self.value)
        raise ValueError(
            f"`{self.name}` is a plain callable and cannot be serialised. Fix: "
            "use a keras.optimizers.schedules.LearningRateSchedule subclass "
            "registered with keras.saving.register_keras_serializable."
        )

    @staticmethod
    def from_config(config):
        """A number, or the schedule deserialised by Keras."""
        if isinstance(config, dict):
            return keras.saving.deserialize_keras_object(config)
        return config
