"""Export a trained student (.keras) as a TensorFlow SavedModel or a LiteRT file.

    python recipes/export.py --model=workdirs/fmnist/cnn_small_kd_s0/student.keras \
        --export_dir=saved_models/my_student
    python recipes/export.py --model=workdirs/fmnist/cnn_small_kd_s0/student.keras \
        --format=litert --quantize=int8 --export_dir=saved_models/my_student_int8.tflite
    # int8: calibrated on 500 training images, checked on the validation split
    # (refused if accuracy drops by more than --max_accuracy_drop points).
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging

from recipes.lib import export
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("model", None, "The student .keras file.", required=True)
flags.DEFINE_enum(
    "compute_dtype", "float32", ["float32", "mixed_float16", "mixed_bfloat16"], "Serving precision of a SavedModel."
)
flags.DEFINE_enum("format", "saved_model", ["saved_model", "litert"], "Export format.")
flags.DEFINE_enum("quantize", "none", ["none", "float16", "dynamic", "int8", "int16x8"], "LiteRT quantization.")
flags.DEFINE_bool("int8_io", False, "int8 inputs and outputs (with --quantize=int8).")
flags.DEFINE_bool(
    "float_logits", False, "With --quantize=int8: keep the last (logits) layer in float32, the rest int8."
)
flags.DEFINE_float("max_accuracy_drop", 0.5, "Largest allowed accuracy drop of a quantized export, in points.")
recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config = recipe_flags.config_from_flags(argv)
    f = flags.FLAGS
    path = export.run(
        config,
        f.model,
        format=f.format,
        quantize=None if f.quantize == "none" else f.quantize,
        compute_dtype=f.compute_dtype,
        int8_io=f.int8_io,
        max_accuracy_drop=f.max_accuracy_drop,
        float_logits=f.float_logits,
    )
    print(f"exported to {path}")


if __name__ == "__main__":
    recipe_flags.run(main)
