"""Export a trained student (.keras) as a TensorFlow SavedModel.

    python recipes/export.py --model=workdirs/fmnist/cnn_small_kd_s0/student.keras \
        --export_dir=saved_models/my_student
"""

from absl import app, flags, logging

import tfkd
from tfkd.recipes import common

flags.DEFINE_string("model", None, "The student .keras file.", required=True)
flags.DEFINE_string("export_dir", "", "Destination. Default: saved_models/<model name>.")
flags.DEFINE_enum("compute_dtype", "float32", ["float32", "mixed_float16", "mixed_bfloat16"], "Serving precision.")
flags.DEFINE_bool("overwrite", False, "Replace a non-empty export_dir.")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        model = common.load_model(flags.FLAGS.model, "student")
        path = tfkd.export_student(model, flags.FLAGS.export_dir or None, flags.FLAGS.compute_dtype,
                                   overwrite=flags.FLAGS.overwrite)
    except (ValueError, FileExistsError) as e:
        raise app.UsageError(str(e)) from None
    print(f"exported to {path}")


if __name__ == "__main__":
    app.run(main)
