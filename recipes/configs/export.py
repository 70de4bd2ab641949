"""Configs of `recipes/export.py`: a trained student as a SavedModel or a LiteRT file.

    python recipes/export.py --config.model=workdirs/distill/cnn_small_kd_s0/student.keras \
        --config.export_dir=saved_models/my_student
    python recipes/export.py --config=recipes/configs/export.py:int8 \
        --config.model=workdirs/distill/cnn_small_kd_s0/student.keras \
        --config.export_dir=saved_models/my_student_int8.tflite

Fields besides the data fields of recipes/configs/distill.py: `model` (the `.keras` file),
`export_dir`, `overwrite`, `format` ("saved_model" or "litert"), `quantize` ("none",
"float16", "dynamic", "int8", "int16x8"), `compute_dtype` (a SavedModel's serving precision),
`int8_io`, `float_logits` (int8 with the logits layer in float32) and `max_accuracy_drop`
(points; a quantized export that loses more on the validation split is refused).

Variants (after the colon):
  (none)  a float32 SavedModel.
  int8    int8 LiteRT, calibrated on 500 training images and checked on the validation
          split: the demo's MLP loses 0.03 points (make demo: 90.17% Keras, 90.26% int8 on
          test, seed 0), a 126 KiB file; seconds on 2 CPU cores.
  smoke   a small slice (tests).
"""

from recipes.lib import config as config_lib

VARIANTS = {
    "int8": {"format": "litert", "quantize": "int8"},
    "smoke": {"smoke": True},
}


def get_config(variant=""):
    config = config_lib.config_dict(
        model="",
        format="saved_model",
        quantize="none",
        compute_dtype="float32",
        int8_io=False,
        float_logits=False,
        max_accuracy_drop=0.5,
    )
    return config_lib.with_variant(config, variant, VARIANTS)
