"""Config of `recipes/benchmark_speed.py` (`make benchmark-speed`): tfkd's step time.

tfkd against the hand-written limit and keras.distillation.

    python recipes/benchmark_speed.py --workdir=workdirs/benchmark_speed

Fields: `pairs` (teacher/student pairs from recipes/lib/speed_pairs.py, comma-separated),
`batch_size`, `steps` per timed epoch, `repeats` (timed epochs per row after a warm-up),
`duel_rounds` (tfkd and keras.distillation timed in alternation), `keras` (also time
keras.distillation), `memory_examples` (peak memory of the student alone and of kd on cached
views, each in its own process; 0 skips), `only_memory` (no timing, so other jobs may run).
Time it alone: the two cores must not be shared. Results: docs/speed.md (the view cache at
1.03x the student alone on the reference students).

Variants: `smoke` (a tiny run, for tests).
"""

import ml_collections

from recipes.lib import benchmark_speed
from recipes.lib import config as config_lib

VARIANTS = {"smoke": {"smoke": True, "pairs": "small", "memory_examples": 0}}


def get_config(variant=""):
    config = ml_collections.ConfigDict(
        {
            "pairs": "small,wide",
            "batch_size": 256,
            "steps": benchmark_speed.STEPS,
            "repeats": benchmark_speed.REPEATS,
            "duel_rounds": benchmark_speed.DUEL_ROUNDS,
            "keras": True,
            "memory_examples": 54000,
            "only_memory": False,
            "smoke": False,
        }
    )
    return config_lib.with_variant(config, variant, VARIANTS)
