"""Cut a student out of a trained teacher, distil it, quantize it to int8, check and
export it: one table (teacher, pruned before training, pruned + kd, int8 LiteRT: parameters,
MACs, size, latency, accuracy, agreement).

    python recipes/compress.py --workdir=workdirs/compress
    python recipes/compress.py --config=recipes/configs/compress.py:resnet14_depth --workdir=workdirs/resnet14_depth

Configured by `recipes/configs/compress.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import compress
from recipes.lib import flags as recipe_flags

recipe_flags.define("compress")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    compress.run(config, workdir)


if __name__ == "__main__":
    recipe_flags.run(main)
