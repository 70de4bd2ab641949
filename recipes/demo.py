"""The main job (`make demo`): the shipped teacher, the reference MLP student
from scratch and distilled with the same schedule over three seeds, the
distilled student exported as a SavedModel and as an int8 LiteRT file, the
teacher cut to a quarter of its parameters and distilled (then int8), and a
comparison table, on Fashion-MNIST.

    python recipes/demo.py --workdir=workdirs/demo
    # ~6 min on 2 CPU cores on a fresh workdir; reruns reuse finished runs.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

from recipes.lib import demo
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("workdir", "workdirs/demo", "Runs, checkpoints and logs.")
flags.DEFINE_string(
    "export_dir", "saved_models/fashion_mnist_mlp_kd_int8.tflite", "The distilled student's int8 LiteRT file."
)
flags.DEFINE_string(
    "saved_model_dir", "saved_models/fashion_mnist_mlp_kd", "The distilled student's SavedModel folder."
)
flags.DEFINE_bool("smoke", False, "Tiny slices and few steps (tests).")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    demo.run(f.workdir, f.smoke, f.export_dir, saved_model_dir=f.saved_model_dir)


if __name__ == "__main__":
    recipe_flags.run(main)
