"""Test accuracy of a saved model (.keras) or an exported SavedModel folder.

python recipes/evaluate.py --model=saved_models/fashion_mnist_cnn_small_kd
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging

from recipes.lib import evaluate
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("model", None, "A .keras file or a SavedModel folder.", required=True)
recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config = recipe_flags.config_from_flags(argv)
    result = evaluate.run(config, flags.FLAGS.model)
    print(f"test accuracy {100 * result['test_accuracy']:.2f}% on {result['examples']} examples")


if __name__ == "__main__":
    recipe_flags.run(main)
