"""Deployment table: each model as a float32 SavedModel and as float32, float16,
dynamic-range and int8 LiteRT files, with size, single-thread batch-1 latency, test accuracy
and agreement with the float32 Keras model.

    python recipes/benchmark_deploy.py --workdir=workdirs/benchmark_deploy \
        --config.models=teacher=saved_models/fashion_mnist_cnn_teacher.keras,mlp_kd=<student.keras>

Configured by `recipes/configs/benchmark_deploy.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import benchmark_deploy
from recipes.lib import flags as recipe_flags

recipe_flags.define("benchmark_deploy")


def main(argv):
    threads = benchmark_deploy.single_thread()  # before TensorFlow runs anything
    logging.set_verbosity(logging.WARNING)
    config, workdir = recipe_flags.parse(argv)
    benchmark_deploy.run(config, workdir)
    if not threads:
        print("note: TensorFlow had started; the SavedModel rows used its default threads.")


if __name__ == "__main__":
    recipe_flags.run(main)
