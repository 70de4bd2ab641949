"""Train the reference teacher.

python recipes/train_teacher.py --workdir=workdirs/fmnist --epochs=3
# ~3 min on 2 CPU cores; ~92% test accuracy on Fashion-MNIST.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import flags as recipe_flags
from recipes.lib import train_teacher

recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config = recipe_flags.config_from_flags(argv)
    result = train_teacher.run(config)
    print(
        f"teacher: {result['path']} test accuracy {100 * result['test_accuracy']:.2f}% "
        f"({result['params']:,} parameters)"
    )


if __name__ == "__main__":
    recipe_flags.run(main)
