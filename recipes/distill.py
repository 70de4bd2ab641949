"""Distil a student from saved teachers (or train it from scratch).

    python recipes/distill.py --config=recipes/configs/distill.py:mlp_kd --workdir=workdirs/mlp_kd
    python recipes/distill.py --config.method=kd+at --config.epochs=4 --workdir=workdirs/cnn_at

Configured by `recipes/configs/distill.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import distill
from recipes.lib import flags as recipe_flags

recipe_flags.define("distill")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    result = distill.run(config, workdir)
    print(
        f"{result['student']} ({result['method']}): test accuracy {100 * result['test_accuracy']:.2f}% "
        f"({result['params']:,} parameters) -> {result.get('export_path', result['student_path'])}"
    )


if __name__ == "__main__":
    recipe_flags.run(main)
