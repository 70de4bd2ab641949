"""Library side of `recipes/export.py`."""

import numpy as np

from recipes.lib import common
from tfkd.export import export_student

CALIBRATION_EXAMPLES = 500


def run(
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
    500 training examples and checked on the validation split.

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
    kwargs = {}
    if format == "litert":
        arrays = common.split_arrays(config)
        to_float = lambda x: x.astype(np.float32) / 255.0
        kwargs = dict(
            representative_data=to_float(arrays["train"][0][:CALIBRATION_EXAMPLES]),
            check_data=(to_float(arrays["val"][0]), arrays["val"][1]),
            max_accuracy_drop=max_accuracy_drop,
            int8_io=int8_io,
            float_logits=float_logits,
        )
    return export_student(
        model,
        config.export_dir or None,
        compute_dtype,
        overwrite=config.overwrite,
        format=format,
        quantize=quantize,
        **kwargs,
    )
