"""Config of `recipes/benchmark_deploy.py` (`make benchmark-deploy`): each model as deployed.

    python recipes/benchmark_deploy.py --workdir=workdirs/benchmark_deploy \
        --config.models=teacher=saved_models/fashion_mnist_cnn_teacher.keras,mlp_kd=<student.keras>

Each model as a float32 SavedModel and as float32, float16, dynamic-range and int8 LiteRT
files: size, single-thread batch-1 latency, test accuracy, agreement with the Keras model.
`models` is comma-separated name=path.keras pairs (empty: the shipped teacher and the seed-0
scratch and kd students of the accuracy benchmark in `benchmark_workdir`); `repeats` timed
calls per export. Results: recipes/results/deploy.md (int8 LiteRT within 0.03 points of the
Keras model); about 2 min for three models on 2 CPU cores, timed alone.

Variants: `smoke` (a small test split, for tests).
"""

import ml_collections

from recipes.lib import config as config_lib

VARIANTS = {"smoke": {"smoke": True, "repeats": 5}}


def get_config(variant=""):
    config = ml_collections.ConfigDict(
        {"models": "", "benchmark_workdir": "workdirs/benchmark_accuracy", "repeats": 200, "smoke": False}
    )
    return config_lib.with_variant(config, variant, VARIANTS)
