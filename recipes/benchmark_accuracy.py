"""Accuracy benchmark on Fashion-MNIST: every method over seeds, two students,
mixed-precision parity and the compression curve.

    python recipes/benchmark_accuracy.py --workdir=workdirs/benchmark_accuracy
    python recipes/benchmark_accuracy.py --config=recipes/configs/benchmark_accuracy.py:cnn_30_epochs

Writes table.md, results.csv, compression.png (and parity.md, loss_scale.png); a rerun with
the same workdir reuses finished runs and resumes the rest. Configured by
`recipes/configs/benchmark_accuracy.py`: its docstring lists the variants with their
commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import benchmark_accuracy
from recipes.lib import flags as recipe_flags

recipe_flags.define("benchmark_accuracy")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    result = benchmark_accuracy.run(config, workdir)
    print(f"Written: {', '.join(result['files'].values())}")


if __name__ == "__main__":
    recipe_flags.run(main)
