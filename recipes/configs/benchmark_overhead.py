"""Config of `recipes/benchmark_overhead.py`: the per-step cost of teaching from cached views.

    python recipes/benchmark_overhead.py --workdir=workdirs/benchmark_overhead

kd on cached augmented views against the student's own `fit`, for `cnn_small` at each of
`widths` (4.5k parameters at 12, about 110k at 64), `rounds` paired epochs of `steps` steps
each; and CRD's memory bank against kd. About 10 min on 2 CPU cores, timed alone. With
--config.steps=30 --config.rounds=6 (commit 8fb46ea): at most 1.020x the student's own epoch
from 4.5k to 111k parameters; CRD 1.12x kd at 4,096 negatives, 1.50x at 16,384
(recipes/results/overhead.md).

Variants: `smoke` (random data and tiny sizes, for tests).
"""

import ml_collections

from recipes.lib import config as config_lib
from recipes.lib.benchmark_overhead import WIDTHS

VARIANTS = {"smoke": {"smoke": True, "widths": (4,)}}


def get_config(variant=""):
    config = ml_collections.ConfigDict(
        {"widths": tuple(WIDTHS), "batch_size": 128, "steps": 40, "rounds": 10, "smoke": False}
    )
    return config_lib.with_variant(config, variant, VARIANTS)
