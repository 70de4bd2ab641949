"""Test accuracy of a saved model (.keras), an exported SavedModel folder or a LiteRT file.

    python recipes/evaluate.py --config.model=saved_models/fashion_mnist_mlp_kd

Configured by `recipes/configs/evaluate.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import evaluate
from recipes.lib import flags as recipe_flags

recipe_flags.define("evaluate")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    result = evaluate.run(config, workdir)
    print(f"test accuracy {100 * result['test_accuracy']:.2f}% on {result['examples']} examples")


if __name__ == "__main__":
    recipe_flags.run(main)
