"""Choose distillation hyper-parameters on the validation split with KerasTuner.

    python recipes/tune.py --config=recipes/configs/tune.py:mlp_kd --workdir=workdirs/tune

Resumable; the best settings are merged into `output` (recipes/results/tuned.json) with the
command. Configured by `recipes/configs/tune.py`: its docstring lists the variants with
their commands, run times and results; override any field with --config.<field>=.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging

from recipes.lib import flags as recipe_flags
from recipes.lib import tune

recipe_flags.define("tune")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress bar
    config, workdir = recipe_flags.parse(argv)
    command = " ".join(["python recipes/tune.py", *sys.argv[1:]])
    for method, best in tune.run(config, workdir, command=command).items():
        print(f"{method}: {best}")


if __name__ == "__main__":
    recipe_flags.run(main)
