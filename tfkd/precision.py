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


def precision_of(model):
    """The mixed-precision policy name a model's layers use, or `"float32"`.

    Args:
        model: a Keras model.

    Returns:
        `"mixed_float16"`, `"mixed_bfloat16"` or `"float32"`.
    """
    names = {l.dtype_policy.name for l in model._flatten_layers(include_self=False)}
    mixed = [n for n in names if n.startswith("mixed")]
    return mixed[0] if mixed else "float32"


def _with_dtype(config, dtype):
    """Replaces every dtype policy in a model config by `dtype`."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return {**config, "config": {**config["config"], "name": dtype}}
        return {k: _with_dtype(v, dtype) for k, v in config.items()}
    if isinstance(config, list):
        return [_with_dtype(v, dtype) for v in config]
    return config


def recast(model, compute_dtype):
    """A copy of `model` computing in `compute_dtype`, with the same weights
    (the model itself when it already does).

    Args:
        model: a functional or sequential Keras model.
        compute_dtype: a policy name of `PRECISIONS`.

    Returns:
        A Keras model.

    Example:
        >>> served = recast(mixed_student, "float32")
    """
    if precision_of(model) == compute_dtype:
        return model
    clone = model.__class__.from_config(_with_dtype(model.get_config(), compute_dtype))
    clone.set_weights(model.get_weights())
    return clone
