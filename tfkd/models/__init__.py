"""Reference models by name, with the layer names distillation methods tap."""

import difflib
import functools
import inspect

from tfkd.models import cifar, small

_BUILDERS = {
    "cnn_teacher": small.cnn_teacher,
    "cnn_small": small.cnn_student,
    "cnn_flat": small.cnn_flat_student,
    "mlp_small": small.mlp_student,
    "mlp_teacher": small.mlp_teacher,
    "resnet14": functools.partial(cifar.resnet, 14),
    "resnet20": functools.partial(cifar.resnet, 20),
    "resnet32x4": functools.partial(cifar.resnet_x4, 32),
    "resnet8x4": functools.partial(cifar.resnet_x4, 8),
    "wrn_40_2": functools.partial(cifar.wide_resnet, 40, 2),
    "wrn_16_2": functools.partial(cifar.wide_resnet, 16, 2),
}

# Feature taps of each reference model by role, for the recipes' methods.
TAPS = {
    "cnn_teacher": {"block1": "t_block1", "block2": "t_block2", "block3": "t_block3", "embed": "t_embed"},
    "cnn_small": {"block1": "s_block1", "block2": "s_block2", "embed": "s_embed"},
    "cnn_flat": {"block1": "s_block1", "block2": "s_block2", "embed": "s_embed"},
    "mlp_small": {"hidden": "s_hidden", "embed": "s_embed"},
    "mlp_teacher": {"hidden": "m_hidden", "embed": "m_embed"},
    **{
        n: {"block1": "block1", "block2": "block2", "block3": "block3", "embed": "embed"}
        for n in ("resnet14", "resnet20", "resnet32x4", "resnet8x4", "wrn_40_2", "wrn_16_2")
    },
}
NAMES = tuple(_BUILDERS)


def get(name, input_shape=(28, 28, 1), num_classes=10, **kwargs):
    """Builds a reference model by name.

    Args:
        name: one of `NAMES` (`cnn_teacher`, `cnn_small`, `cnn_flat`, `mlp_small`, `mlp_teacher`,
            `resnet14`, `resnet20`, `resnet32x4`, `resnet8x4`, `wrn_40_2`, `wrn_16_2`).
        input_shape: image shape, batch excluded.
        num_classes: number of classes.
        **kwargs: builder arguments (e.g. `width=` for the 28×28 models).

    Returns:
        A functional `keras.Model` with float32 logits.

    Raises:
        ValueError: for an unknown name (the closest names are listed).

    Example:

    ```python
    teacher = tfkd.models.get("cnn_teacher")
    student = tfkd.models.get("cnn_small", width=4)
    ```
    """
    if name not in _BUILDERS:
        close = difflib.get_close_matches(str(name), NAMES, n=3, cutoff=0.4)
        raise ValueError(
            f"Unknown model {name!r}. Expected one of {list(NAMES)}" + (f"; closest: {close}." if close else ".")
        )
    return _BUILDERS[name](input_shape=input_shape, num_classes=num_classes, **kwargs)


def default_width(name):
    """The `width` a builder uses when none is given (None if it has none)."""
    builder = _BUILDERS[name]
    params = inspect.signature(builder.func if isinstance(builder, functools.partial) else builder).parameters
    return params["width"].default if "width" in params else None


__all__ = ["NAMES", "TAPS", "default_width", "get", "cifar", "small"]
