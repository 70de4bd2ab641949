"""Train a teacher from scratch (resumable), optionally shipped with its record.

    python recipes/train_teacher.py --workdir=workdirs/fmnist
    python recipes/train_teacher.py --config=recipes/configs/train_teacher.py:resnet14 --workdir=workdirs/resnet14

Configured by `recipes/configs/train_teacher.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import flags as recipe_flags
from recipes.lib import train_teacher

recipe_flags.define("train_teacher")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    result = train_teacher.run(config, workdir)
    accuracy, params = 100 * result["test_accuracy"], result["params"]
    print(f"teacher: test accuracy {accuracy:.2f}% ({params:,} parameters) -> {result['path']}")


if __name__ == "__main__":
    recipe_flags.run(main)
