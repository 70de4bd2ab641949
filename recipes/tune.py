"""Choose distillation hyper-parameters on the validation split with KerasTuner.

    python recipes/tune.py --teacher=saved_models/fashion_mnist_cnn_teacher.keras \
        --student=mlp_small --student_width=128 --cache_teacher --noaugment \
        --tune_methods=kd,kd_mixup --workdir=workdirs/tune
    # Grid over temperature x hard-label weight (12 trials of 8 epochs) on
    # cached teacher views; ~10 min on 2 CPU cores for the MLP. Results are
    # merged into recipes/results/tuned.json, which the benchmark reads.
"""

import os
import sys

if not __package__:  # run as `python recipes/<name>.py`: the repository root holds `recipes`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging

from recipes.lib import flags as recipe_flags
from recipes.lib import tune

flags.DEFINE_list(
    "tune_methods", ["kd"], "Methods to tune: kd, kd_mixup, dkd, dist, kd_std, crd, fitnet, at, rkd, sp, pkt."
)
flags.DEFINE_integer("max_trials", 12, "Trials per method.")
flags.DEFINE_integer("trial_epochs", 8, "Epochs per trial.")
flags.DEFINE_list("temperatures", [str(t) for t in tune.TEMPERATURES], "Soft-label temperatures to try (kd).")
flags.DEFINE_list("alphas", [str(a) for a in tune.ALPHAS], "Hard-label weights to try (kd; 0 = pure distillation).")
flags.DEFINE_string("output", "recipes/results/tuned.json", "JSON file the best settings are merged into.")
recipe_flags.define_config_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)
    config = recipe_flags.config_from_flags(argv)
    f = flags.FLAGS
    grid = [float(t) for t in f.temperatures], [float(a) for a in f.alphas]
    command = "python recipes/tune.py " + " ".join(sys.argv[1:])
    results = tune.run(config, f.tune_methods, f.max_trials, f.trial_epochs, f.output, *grid, command=command)
    for method, best in results.items():
        print(f"{method}: {best}")


if __name__ == "__main__":
    recipe_flags.run(main)
