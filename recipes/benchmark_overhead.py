"""Per-step overhead of consistent teaching from cached views, across student sizes:
kd on cached augmented views against the student's own `fit`; and what CRD's memory bank
costs over kd.

    python recipes/benchmark_overhead.py --workdir=workdirs/benchmark_overhead

Time it alone on the machine; writes overhead.md. Configured by
`recipes/configs/benchmark_overhead.py`: its docstring lists the variants with their
commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import benchmark_overhead
from recipes.lib import flags as recipe_flags

recipe_flags.define("benchmark_overhead")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    benchmark_overhead.run(config, workdir)


if __name__ == "__main__":
    recipe_flags.run(main)
