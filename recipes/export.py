"""Export a trained student (.keras) as a TensorFlow SavedModel or a LiteRT file.

    python recipes/export.py --config.model=workdirs/distill/cnn_small_kd_s0/student.keras \
        --config.export_dir=saved_models/my_student
    python recipes/export.py --config=recipes/configs/export.py:int8 \
        --config.model=workdirs/distill/cnn_small_kd_s0/student.keras \
        --config.export_dir=saved_models/my_student_int8.tflite

int8 is calibrated on 500 training images and checked on the validation split (refused if
accuracy drops by more than `max_accuracy_drop` points). Configured by
`recipes/configs/export.py`: its docstring lists the variants with their commands, run times
and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import export
from recipes.lib import flags as recipe_flags

recipe_flags.define("export")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    print(f"exported to {export.run(config, workdir)}")


if __name__ == "__main__":
    recipe_flags.run(main)
