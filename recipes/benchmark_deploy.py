"""Deployment table: each model as a float32 SavedModel and as float32,
float16, dynamic-range and int8 LiteRT files, with size, single-thread batch-1
latency, test accuracy and agreement with the float32 Keras model.

    python recipes/benchmark_deploy.py \
        --models=teacher=saved_models/fashion_mnist_cnn_teacher.keras,mlp_kd=workdirs/.../student.keras \
        --workdir=workdirs/benchmark_deploy
    # ~2 min for three models on 2 CPU cores; writes deploy.md and deploy.json.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

from recipes.lib import benchmark_deploy
from recipes.lib import flags as recipe_flags

flags.DEFINE_list(
    "models",
    [],
    "name=path.keras pairs (default: the shipped teacher and the accuracy "
    "benchmark's scratch and kd students, seed 0).",
)
flags.DEFINE_string("benchmark_workdir", "workdirs/benchmark_accuracy", "Where the default students come from.")
flags.DEFINE_string("workdir", "workdirs/benchmark_deploy", "Output folder.")
flags.DEFINE_integer("repeats", 200, "Timed batch-1 calls per export.")
flags.DEFINE_bool("smoke", False, "A small test split (tests).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    threads = benchmark_deploy.single_thread()  # before TensorFlow starts
    logging.set_verbosity(logging.WARNING)
    from recipes.lib.config import Config

    models = {} if flags.FLAGS.models else benchmark_deploy.default_models(flags.FLAGS.benchmark_workdir)
    for pair in flags.FLAGS.models:
        name, _, path = pair.partition("=")
        if not name or not path:
            raise app.UsageError(f"--models entry {pair!r} must be name=path.keras.")
        models[name] = path
    config = Config(smoke=flags.FLAGS.smoke, workdir=flags.FLAGS.workdir)
    benchmark_deploy.run(config, models, flags.FLAGS.workdir, flags.FLAGS.repeats)
    if not threads:
        print("note: TensorFlow had started; the SavedModel rows used its default threads.")


if __name__ == "__main__":
    recipe_flags.run(main)
