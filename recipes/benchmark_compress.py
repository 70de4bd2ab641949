"""Students cut out of the shipped teacher at about 25% and 10% of its parameters,
distilled from it over 3 seeds, against the same architectures trained from random weights
(kd, scratch, scratch with augmentation): one table (`compress.md`) and the learning and
compression curves (`compress.png`).

    python recipes/benchmark_compress.py --workdir=workdirs/benchmark_compress

Resumable. Configured by `recipes/configs/benchmark_compress.py`: its docstring lists the
variants with their commands, run times and results; override any field with
--config.<field>=."""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import benchmark_compress
from recipes.lib import flags as recipe_flags

recipe_flags.define("benchmark_compress")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    benchmark_compress.run(config, workdir)


if __name__ == "__main__":
    recipe_flags.run(main)
