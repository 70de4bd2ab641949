"""Per-step overhead of consistent teaching from cached views, across student
sizes: kd on cached augmented views against the student's own `fit`; and
what CRD's memory bank costs over kd.

    python recipes/benchmark_overhead.py --workdir=workdirs/benchmark_overhead
    # ~10 min on 2 CPU cores, alone; writes overhead.md
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

from recipes.lib import benchmark_overhead
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("workdir", "workdirs/benchmark_overhead", "Where overhead.md goes.")
flags.DEFINE_list("widths", [str(w) for w in benchmark_overhead.WIDTHS], "cnn_small widths to time.")
flags.DEFINE_integer("batch_size", 128, "Examples per step.")
flags.DEFINE_integer("steps", 40, "Steps per timed epoch.")
flags.DEFINE_integer("rounds", 10, "Paired rounds per width (one epoch of each, in alternation).")
flags.DEFINE_bool("smoke", False, "A tiny run on random data (tests).")


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    widths = [int(w) for w in f.widths]
    if not widths or min(widths) < 1 or min(f.batch_size, f.steps, f.rounds) < 1:
        raise ValueError("--widths, --batch_size, --steps and --rounds must be whole numbers >= 1.")
    lines = []
    benchmark_overhead.run(widths, f.batch_size, f.steps, f.rounds, f.smoke, print_fn=lines.append)
    os.makedirs(f.workdir, exist_ok=True)
    with open(os.path.join(f.workdir, "overhead.md"), "w") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    recipe_flags.run(main)
