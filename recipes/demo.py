"""The main job (`make demo`): the shipped teacher, the reference MLP student from scratch
and distilled with the same schedule over three seeds, the distilled student exported as a
SavedModel and as an int8 LiteRT file, the teacher cut to a quarter of its parameters and
distilled (then int8), and a comparison table, on Fashion-MNIST.

    python recipes/demo.py --workdir=workdirs/demo

Reruns reuse finished runs. Configured by `recipes/configs/demo.py`: its docstring lists the
variants with their commands, run times and results; override any field with
--config.<field>=."""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import demo
from recipes.lib import flags as recipe_flags

recipe_flags.define("demo")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    demo.run(config, workdir)


if __name__ == "__main__":
    recipe_flags.run(main)
