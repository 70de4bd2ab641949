"""Mixed-precision helpers: what a model computes in, and loss scaling."""

import warnings

import keras
import tensorflow as tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def compute_dtypes(model):
    """The set of compute dtypes of the model's layers (nested included)."""
    return {layer.compute_dtype for layer in model._flatten_layers(include_self=True, recursive=True)}


def computes_in_float16(model):
    """True if any layer of `model` computes in float16 (needs loss scaling)."""
    return "float16" in compute_dtypes(model)


def with_loss_scaling(optimizer, model):
    """Wraps `optimizer` in a `LossScaleOptimizer` if `model` computes in
    float16 and it is not wrapped already.

    Args:
        optimizer: an optimizer instance or identifier.
        model: the model whose compute dtype decides (the student).

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    optimizer = keras.optimizers.get(optimizer)
    if computes_in_float16(model) and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def warn_if_float16_output(model):
    """Warns when the model's final output is float16 (Keras guide advice)."""
    outputs = getattr(model, "outputs", None) or []
    if any(getattr(o, "dtype", None) == "float16" for o in outputs):
        warnings.warn(
            f"The output of `{model.name}` is float16. tfkd casts it to "
            "float32 before every loss, but float16 logits lose precision and "
            'can overflow. Fix: give the output layer `dtype="float32"` '
            "(see the Keras mixed-precision guide).",
            stacklevel=3,
        )


def default_precision():
    """`mixed_float16` when a GPU is visible, `float32` otherwise."""
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"


def num_replicas():
    """Replicas in sync under the current tf.distribute strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync
