"""Library side of `recipes/export.py`."""

import os

import numpy as np

from recipes.lib import common
from recipes.lib import config as config_lib

CALIBRATION_EXAMPLES = 500


def run(config, workdir):
    """`recipes/export.py`: `export_model` with a config of
    `recipes/configs/export.py` (`model`, `export_dir`, `format`,
    `quantize`, `compute_dtype`, `int8_io`, `float_logits`,
    `max_accuracy_drop` and the data fields).

    Returns:
        The export path.

    Raises:
        ValueError, FileExistsError, RuntimeError: as `export_model`.
    """
    own = ("model", "format", "quantize", "compute_dtype", "int8_io", "float_logits", "max_accuracy_drop")
    data = config_lib.training_config(config, workdir, ignore=own)
    if not config.model:
        raise ValueError("export needs --config.model=path/to/student.keras (the trained student).")
    return export_model(
        data,
        config.model,
        format=config.format,
        quantize=None if config.quantize == "none" else config.quantize,
        compute_dtype=config.compute_dtype,
        int8_io=config.int8_io,
        max_accuracy_drop=config.max_accuracy_drop,
        float_logits=config.float_logits,
    )


def export_model(
    config,
    model_path,
    format="saved_model",
    quantize=None,
    compute_dtype="float32",
    int8_io=False,
    max_accuracy_drop=0.5,
    float_logits=False,
):
    """Exports a saved student; LiteRT exports are calibrated on the first
    500 training examples and checked on the validation split. A rerun with
    the same student file and settings finds its export and does nothing.

    Args:
        config: a `recipes.lib.config.Config` (dataset, export_dir,
            overwrite, smoke).
        model_path: the student's `.keras` file.
        format, quantize, compute_dtype, int8_io, max_accuracy_drop,
            float_logits: as in `tfkd.export_student`.

    Returns:
        The export path.

    Raises:
        ValueError, FileExistsError, RuntimeError: as `tfkd.export_student`.
    """
    config.validate()
    model = common.load_model(model_path, "student")
    settings = dict(format=format, quantize=quantize, compute_dtype=compute_dtype)
    data = {}
    if format == "litert":
        arrays = common.split_arrays(config)
        to_float = lambda x: x.astype(np.float32) / 255.0
        settings.update(max_accuracy_drop=max_accuracy_drop, int8_io=int8_io, float_logits=float_logits)
        data = dict(
            representative_data=to_float(arrays["train"][0][:CALIBRATION_EXAMPLES]),
            check_data=(to_float(arrays["val"][0]), arrays["val"][1]),
        )
    export_dir = config.export_dir or _default_path(model, format, quantize)
    return common.export_once(model, model_path, export_dir, config.overwrite, settings, **data)


def _default_path(model, format, quantize):
    from tfkd.export import DEFAULT_DIR

    if format == "litert":
        return os.path.join(DEFAULT_DIR, f"{model.name}_{quantize or 'float32'}.tflite")
    return os.path.join(DEFAULT_DIR, model.name)
