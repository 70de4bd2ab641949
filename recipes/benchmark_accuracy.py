"""Accuracy benchmark on Fashion-MNIST: every method over seeds, two
students, mixed-precision parity and the compression curve.

    python recipes/benchmark_accuracy.py --workdir=workdirs/benchmark_accuracy
    # writes table.md, parity.md, results.csv, compression.png, loss_scale.png;
    # a rerun with the same workdir reuses finished runs and resumes the rest.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dataclasses

from absl import app, flags, logging

from recipes.lib import benchmark_accuracy
from recipes.lib import flags as recipe_flags

_HELP = {
    "rows": f"Methods, from {list(benchmark_accuracy.ROWS)}.",
    "parity_precisions": "Precisions compared with float32 on a shortened schedule (empty: skip).",
    "curve_widths": "Hidden widths of the compression-curve student (empty: skip).",
    "smoke": "Tiny slices and few steps (tests).",
}
recipe_flags.define_dataclass_flags(benchmark_accuracy.Settings, _HELP)
flags.DEFINE_bool("collect", False, "Only rebuild the tables from the finished runs in --workdir (no training).")
FLAGS = flags.FLAGS


def settings_from_flags(flag_values):
    """`Settings` from parsed flags: list flags whose default holds integers
    (seeds, widths) become tuples of ints, the others tuples of strings."""
    values = {}
    for field in dataclasses.fields(benchmark_accuracy.Settings):
        value = flag_values[field.name].value
        if isinstance(field.default, tuple):
            ints = field.default and all(isinstance(v, int) for v in field.default)
            value = tuple(int(v) for v in value) if ints else tuple(value)
        values[field.name] = value
    return benchmark_accuracy.Settings(**values)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    settings = settings_from_flags(FLAGS)
    settings.validate()
    if FLAGS.collect:
        result = benchmark_accuracy.collect(settings)
    else:
        result = benchmark_accuracy.run(settings)
    print(f"Written: {', '.join(result['files'].values())}")


if __name__ == "__main__":
    recipe_flags.run(main)
