"""Per-epoch curves (validation accuracy by default) of finished training runs, averaged over seeds.

    python recipes/plot_runs.py --config.runs="cut=wd/cut/s*/*_s*;scratch=wd/scratch/s*/*_s*" --config.out=c.png

Configured by `recipes/configs/plot_runs.py`: its docstring says what each field does;
override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from recipes.lib import flags as recipe_flags
from recipes.lib import plot_runs

recipe_flags.define("plot_runs")


def main(argv):
    config, workdir = recipe_flags.parse(argv)
    path, table = plot_runs.run(config, workdir)
    print(table)
    print(f"Written: {path}")


if __name__ == "__main__":
    recipe_flags.run(main)
