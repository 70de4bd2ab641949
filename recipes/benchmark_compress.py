"""Students cut out of the shipped teacher at about 25% and 10% of its
parameters, distilled from it, over 3 seeds, against the same architectures
trained from random weights (kd, scratch, scratch with augmentation): one
table (`compress.md`) and the learning and compression curves
(`compress.png`).

    python recipes/benchmark_compress.py --workdir=workdirs/benchmark_compress
    # resumable; 2 kept fractions x 3 seeds x 5 trainings of 10 (or 2) epochs
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging

from recipes.lib import benchmark_compress, shipped
from recipes.lib import flags as recipe_flags

flags.DEFINE_string("teacher", shipped.teacher_path(), "The trained teacher to cut the students from.")
flags.DEFINE_list("keeps", ["0.5", "0.32"], "Fractions of each layer's channels kept.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (each: its own random init and batch order).")
flags.DEFINE_enum("keep_by", "uniform", ["uniform", "search"], "Channels per layer: uniform, or search_keep.")
flags.DEFINE_integer("epochs", 10, "Epochs of every training run.")
flags.DEFINE_integer("short_epochs", 2, "Also distil the pruned student in this many epochs (0: not).")
flags.DEFINE_string("workdir", "workdirs/benchmark_compress", "Where the runs, compress.md and compress.png go.")
flags.DEFINE_bool("smoke", False, "A few steps on a small slice (tests).")


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    settings = benchmark_compress.Settings(
        teacher=f.teacher,
        keeps=tuple(float(k) for k in f.keeps),
        seeds=tuple(int(s) for s in f.seeds),
        keep_by=f.keep_by,
        epochs=f.epochs,
        short_epochs=f.short_epochs,
        workdir=f.workdir,
        smoke=f.smoke,
    )
    benchmark_compress.run(settings)


if __name__ == "__main__":
    recipe_flags.run(main)
