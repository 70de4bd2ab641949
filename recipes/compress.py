"""Cut a student out of a trained teacher, distil it, quantize it to int8,
check and export it: one table (teacher, pruned before training, pruned +
kd, int8 LiteRT: parameters, MACs, size, latency, accuracy, agreement).

    python recipes/compress.py --teacher=saved_models/fashion_mnist_cnn_teacher.keras \
        --keep=0.5 --epochs=10 --workdir=workdirs/compress
    # --drop_blocks=N first drops the N least important residual blocks
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging

from recipes.lib import compress
from recipes.lib import flags as recipe_flags

flags.DEFINE_enum("export", "int8", ["int8", "none"], "Export the distilled student as int8 LiteRT, or not.")
flags.DEFINE_bool("baselines", False, "Also train the pruned architecture from random weights (scratch and kd).")
recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)
    config = recipe_flags.config_from_flags(argv)
    compress.run(config, export=flags.FLAGS.export, baselines=flags.FLAGS.baselines)


if __name__ == "__main__":
    recipe_flags.run(main)
