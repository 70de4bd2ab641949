"""Speed benchmark: tfkd against the hand-written limit and keras.distillation.

python recipes/benchmark_speed.py --workdir=workdirs/benchmark_speed
# about 15 min on 2 CPU cores; writes speed.md and speed.csv
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

from recipes.lib import benchmark_speed
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("workdir", "workdirs/benchmark_speed", "Where speed.md and speed.csv go.")
flags.DEFINE_list("pairs", ["small", "wide"], f"Model pairs, from {list(benchmark_speed.PAIRS)}.")
flags.DEFINE_integer("batch_size", 256, "Examples per step.")
flags.DEFINE_integer("steps", benchmark_speed.STEPS, "Steps per timed epoch.")
flags.DEFINE_integer("repeats", benchmark_speed.REPEATS, "Timed epochs per row (after one warm-up epoch).")
flags.DEFINE_integer(
    "duel_rounds",
    benchmark_speed.DUEL_ROUNDS,
    "Rounds of the tfkd / keras.distillation duels (one epoch each per round, in alternation).",
)
flags.DEFINE_bool("keras", True, "Also time keras.distillation.Distiller.")
flags.DEFINE_integer(
    "memory_examples",
    54000,
    "Peak memory of the student alone vs kd on cached views, each in its own process (0: skip).",
)
flags.DEFINE_bool("only_memory", False, "Measure memory only (memory.md); no timing, so other jobs may run.")
flags.DEFINE_bool("smoke", False, "A tiny run (tests).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    benchmark_speed.check_args(FLAGS.pairs, FLAGS.batch_size, FLAGS.steps, FLAGS.repeats)
    if FLAGS.duel_rounds < 1:
        raise ValueError(f"--duel_rounds must be >= 1, got {FLAGS.duel_rounds}.")
    benchmark_speed.run(
        FLAGS.workdir,
        tuple(FLAGS.pairs),
        FLAGS.batch_size,
        FLAGS.steps,
        FLAGS.repeats,
        FLAGS.smoke,
        FLAGS.keras,
        memory_examples=0 if FLAGS.smoke else FLAGS.memory_examples,
        only_memory=FLAGS.only_memory,
        duel_rounds=FLAGS.duel_rounds,
    )


if __name__ == "__main__":
    recipe_flags.run(main)
