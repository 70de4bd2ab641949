"""Speed benchmark: tfkd against the hand-written limit and keras.distillation.

    python recipes/benchmark_speed.py --workdir=workdirs/benchmark_speed

Time it alone on the machine. Configured by `recipes/configs/benchmark_speed.py`: its
docstring lists the variants with their commands, run times and results; override any field
with --config.<field>=."""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import benchmark_speed
from recipes.lib import flags as recipe_flags

recipe_flags.define("benchmark_speed")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    benchmark_speed.run(config, workdir)


if __name__ == "__main__":
    recipe_flags.run(main)
