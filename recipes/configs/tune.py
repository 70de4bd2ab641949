"""Configs of `recipes/tune.py`: distillation hyper-parameters chosen on the validation split.

    python recipes/tune.py --config=recipes/configs/tune.py:mlp_kd --workdir=workdirs/tune

Fields besides the training fields of recipes/configs/distill.py: `tune_methods` (kd,
kd_mixup, dkd, dist, kd_std, dkd_std (DKD on standardized logits), crd, fitnet, at, rkd, sp,
pkt; dkd_mixup, dist_mixup, kd_std_mixup and dkd_std_mixup search a logit method's grid on
mixup views from `teachers`), `max_trials` per method,
`trial_epochs`, the soft-label grid `temperatures` and `alphas`, and `output` (the JSON file
the best settings are merged into, with the command). The configs that use a result carry
its values (recipes/configs/distill.py, benchmark_accuracy.py).

Variants (after the colon; 2 CPU cores):
  mlp_kd     kd on the MLP (mlp_small w128, 30-epoch trials, cached logits, no augmentation),
             the 12-point grid T in {1, 2, 4, 8} x α in {0, 0.1, 0.5} (`make tune`): T = 2,
             α = 0.5, 91.23% on validation.
  mlp_logit  DKD, DIST, standardized kd and CRD on the MLP, their own grids (6 trials
             each, commit 625dd7a): recipes/results/tuned.json.
  mlp_ensemble_mixup  standardized kd and DIST on the MLP in the setting of their rows in
             benchmark_accuracy.py:mlp_views32: the two-teacher ensemble (the shipped teacher and
             cnn_flat w8), mixup Beta(0.2, 0.2), 32 cached views, 30-epoch trials, their grids
             (6 and 4 trials). Commit 1b40373: every trial 90.75-91.08% on validation;
             kd std T = 1, α = 0.1 (91.07%, tied with T = 4, α = 0.1), DIST T = 1,
             β = γ = 2 (91.08%): recipes/results/tuned.json. With
             --config.tune_methods=dkd_mixup, DKD's grid (T in {1, 4} x β in {1, 2, 8},
             commit 6c54219): T = 1, β = 1, 90.92% (β = 8: 89.6-89.7%). With
             dkd_std_mixup, DKD on standardized logits (that grid x α in {0.1, 0.5},
             12 trials, commit 55f66f8): T = 1, β = 1, α = 0.5, 91.33%, the best
             search in this setting (every trial 90.15-91.33%).
  cnn_kd     kd on cnn_flat w8 (20-epoch trials): T = 2, α = 0.5, 92.13% on validation.
  cnn_logit  standardized kd and DIST on cnn_flat w8 (20-epoch trials, their grids:
             6 and 4 trials): kd std T = 2, α = 0.1, 92.18%; DIST T = 1, β = γ = 2,
             92.28% on validation (recipes/results/tuned.json).
  smoke      two trials of one epoch on a slice (tests).
"""

from recipes.lib import config as config_lib
from recipes.lib import shipped
from recipes.lib import tune as tune_lib

MLP = dict(student="mlp_small", student_width=128, augment=False, cache_teacher=True, views=1, trial_epochs=30)

VARIANTS = {
    "mlp_kd": {**MLP, "tune_methods": "kd"},
    "mlp_logit": {**MLP, "tune_methods": "dkd,dist,kd_std,crd", "max_trials": 6},
    "mlp_ensemble_mixup": {
        **MLP,
        "teachers": f"{shipped.TEACHER},{shipped.path('fashion_mnist_cnn_flat_w8_60ep.keras')}",
        "mixup": 0.2,
        "views": 32,
        "tune_methods": "kd_std_mixup,dist_mixup",
        "max_trials": 6,
    },
    "cnn_kd": {
        "student": "cnn_flat",
        "student_width": 8,
        "augment": False,
        "cache_teacher": True,
        "views": 1,
        "trial_epochs": 20,
        "tune_methods": "kd",
        "temperatures": (2.0, 4.0),
        "alphas": (0.1, 0.5),
        "max_trials": 4,
    },
    "cnn_logit": {
        "student": "cnn_flat",
        "student_width": 8,
        "augment": False,
        "cache_teacher": True,
        "views": 1,
        "trial_epochs": 20,
        "tune_methods": "kd_std,dist",
        "max_trials": 6,
    },
    "smoke": {"smoke": True, "max_trials": 2, "trial_epochs": 1, "temperatures": (2.0, 4.0), "alphas": (0.1,)},
}


def get_config(variant=""):
    config = config_lib.config_dict(
        teacher=shipped.TEACHER,
        tune_methods="kd",
        max_trials=12,
        trial_epochs=8,
        temperatures=tune_lib.TEMPERATURES,
        alphas=tune_lib.ALPHAS,
        output=shipped.TUNED,
    )
    return config_lib.with_variant(config, variant, VARIANTS)
