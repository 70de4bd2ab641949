"""Distil a student from a saved teacher (or train it from scratch).

    python recipes/distill.py --teacher=workdirs/fmnist/teacher.keras \
        --student=cnn_small --method=kd+fitnet --epochs=4 --workdir=workdirs/fmnist
    # ~2 min on 2 CPU cores. --method: kd, fitnet, at, rkd, sp, pkt, scratch, kd+at, ...
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import distill
from recipes.lib import flags as recipe_flags

recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config = recipe_flags.config_from_flags(argv)
    result = distill.run(config)
    print(
        f"{config.student} ({config.method}): test accuracy {100 * result['test_accuracy']:.2f}% "
        f"({result['params']:,} parameters) -> {result.get('export_path', result['student_path'])}"
    )


if __name__ == "__main__":
    recipe_flags.run(main)
