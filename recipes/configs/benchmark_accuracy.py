"""Configs of `recipes/benchmark_accuracy.py` (`make benchmark-accuracy`): every row over seeds.

    python recipes/benchmark_accuracy.py --config=recipes/configs/benchmark_accuracy.py:cnn_30_epochs \
        --workdir=workdirs/benchmark_accuracy
    # a rerun with the same workdir reuses finished runs; --config.collect=True only rebuilds the tables

Rows (`rows`, comma-separated) are named in recipes/lib/accuracy_rows.py: scratch,
scratch+mixup, kd, kd+mixup, kd pure, kd online, kd top-5, fitnet, at, rkd, sp, pkt, kd+at,
dkd, dist, kd std, crd, kd+crd, and the two-teacher rows (`second_teacher` is the
ensemble's second member): kd (2 teachers), kd+mixup (2 teachers), kd std (2 teachers),
dist (2 teachers), kd std+mixup (2 teachers), dist+mixup (2 teachers), dkd+mixup (2 teachers);
dkd std and dkd std+mixup (2 teachers) are DKD on standardized logits, dkd weighted+mixup
(2 teachers) DKD with label-weighted targets on mixup views. Each student's
schedule is its own (recipes/lib/accuracy_rows.py: the MLP 60 epochs, the CNN 20) unless
`epochs` is set. Every student row trains at the peak `learning_rate` (default 2e-3; another
rate gets its own run folders; recipes/results/reference_learning_rate.md searched it);
`cache_on_disk` keeps the teacher views under workdir/teacher_cache for reruns. Test accuracy
below, mean ± std over the seeds; Δ against the better scratch row.

Variants (after the colon; 2 CPU cores):
  (none)            the MLP and the CNN, rows scratch, scratch+mixup, kd, kd+mixup, kd pure,
                    3 seeds, the compression curve (recipes/results/table.md).
  mlp_two_teachers  the MLP, 5 seeds, function matching from one and two teachers: best
                    distillation row (chosen on validation) kd+mixup 90.28 ± 0.10 against
                    scratch+mixup 90.04 ± 0.24 (commits 050e6a9/494ea99; 205-348 s a run,
                    recipes/results/mlp_two_teachers.md).
  mlp_logit_methods DKD, DIST and standardized kd on the MLP, 3 seeds: 89.56 ± 0.07,
                    89.94 ± 0.13, 90.02 ± 0.27 against scratch 89.40 ± 0.17 (commit 625dd7a;
                    120-241 s a run, recipes/results/logit_methods_mlp.md).
  mlp_ensemble_logit  standardized kd and DIST on the ensemble's mixup views, the MLP, 5 seeds
                    (recipes/results/mlp_ensemble_logit.md).
  mlp_strong_mixup  the rows of mlp_ensemble_logit with mixup Beta(1, 1) instead of Beta(0.2, 0.2)
                    for scratch and distillation alike (aggressive mixup for function matching,
                    Beyer et al. 2022), 3 seeds. Rows "scratch,scratch+mixup,kd+mixup (2 teachers)"
                    (commit 285ad72): scratch+mixup 89.75 ± 0.19, kd+mixup (2 teachers)
                    90.10 ± 0.23, both below Beta(0.2, 0.2) on test and on validation
                    (recipes/results/mlp_strong_mixup.md).
  mlp_views32       the ensemble's mixup rows with 32 cached views per example instead of 8 (closer
                    to fresh function matching). Rows "scratch,kd+mixup (2 teachers)", 5 seeds
                    (commits e256f3a/d61016d): 90.61 ± 0.17, +0.57 (2.7 σ) over scratch+mixup, the
                    best MLP row on validation (91.49%); kd std+mixup (2 teachers) 90.37 ± 0.10
                    (5 seeds, +0.34, 1.8 σ; 690-850 s a run, recipes/results/mlp_views32.md) at
                    T = 4; with its settings tuned on these views (T = 1, commit f12d5a6) 90.39 ±
                    0.20 over 3 seeds, DIST+mixup 90.27 ± 0.18 over 2 (about 1,200 s a row,
                    recipes/results/mlp_views32_tuned.md); dkd+mixup (2 teachers) 90.48 ± 0.18
                    over 5 seeds (T = 1, β = 1; +0.44, 2.0 σ), dkd std+mixup (2 teachers)
                    90.32 ± 0.15 over 3 (T = 1, β = 1, α = 0.5; commit f7fdbf1), dkd weighted+mixup
                    (2 teachers) 90.43 ± 0.21 over 5 (commit cc1dc10).
  cnn_30_epochs     cnn_flat w8, 30 epochs, the two-teacher ensemble: 91.70 ± 0.25 against
                    scratch+mixup 91.11 ± 0.17, +0.59, 2.8 σ (253-555 s a run,
                    recipes/results/cnn_30_epochs.md).
  cnn_logit_methods cnn_flat w8, 30 epochs, the two-teacher ensemble: standardized kd and DIST
                    with their settings tuned on cnn_flat w8 (recipes/configs/tune.py:cnn_logit)
                    against scratch, scratch+mixup and kd. Rows "scratch,dist (2 teachers)":
                    DIST 91.40 ± 0.32, kd std (2 teachers) 91.33 ± 0.34, +0.29 and +0.22 over
                    scratch+mixup, both below kd (275-711 s a run,
                    recipes/results/cnn_logit_methods.md).
  cnn_views32       cnn_flat w8, 30 epochs, the ensemble's mixup rows on 32 cached views per
                    example (the MLP's best setting) with DIST, standardized kd and kd. Rows
                    "scratch,scratch+mixup,dist+mixup (2 teachers)" (commit 1418bb9): DIST+mixup
                    91.71 ± 0.13 against scratch+mixup 90.97 ± 0.25, +0.74, 3.7 σ (1,195 s a DIST
                    run, recipes/results/cnn_views32.md).
  view_cache_parity cnn_flat w8 with shifts and flips: kd online 90.32 ± 0.21, kd top-5
                    90.04 ± 0.19 (recipes/results/view_cache_parity.md).
  smoke             tiny slices (tests).

`tuned` holds what `recipes/tune.py` found on the validation split (its searches are
recorded with their commands in recipes/results/tuned.json): kd for the MLP (T in
{1, 2, 4, 8} x α in {0, 0.1, 0.5}, 30-epoch trials, 91.23% on validation) and the CNN
(T in {2, 4} x α in {0.1, 0.5}, 20-epoch trials, 92.13%); DKD, DIST, standardized kd and
CRD for the MLP (commit 625dd7a: 91.07%, 90.92%, 91.13%, 90.77%). DIST and standardized kd for
the CNN (commit 9ea395c: 92.28%, 92.18%). Standardized kd and DIST for the MLP in the
setting of their '+mixup' rows (two teachers, mixup, 32 views; commit 1b40373, 30-epoch
trials): every setting within 0.33 points on validation, best kd std T = 1, α = 0.1
(91.07%, tied with T = 4) and DIST T = 1, β = γ = 2 (91.08%). A row takes the settings of
plain kd, then those of its own search, then those of its '+mixup' search for a '+mixup' row.
"""

from recipes.lib import config as config_lib
from recipes.lib import shipped
from recipes.lib.benchmark_accuracy import Settings

TUNED = {
    "mlp_small_w128": {
        "kd": {"temperature": 2.0, "alpha": 0.5},
        "dkd": {"dkd_temperature": 1.0, "dkd_beta": 2.0},
        "dist": {"dist_temperature": 1.0, "dist_beta": 2.0},
        "kd_std": {"temperature": 4.0, "alpha": 0.1},
        "crd": {"crd_negatives": 1024, "crd_weight": 0.8},
        # Searched in their '+mixup' rows' setting (two teachers, mixup views):
        # tune.py:mlp_ensemble_mixup, 30-epoch trials, 32 views (dkd_mixup with
        # --config.tune_methods=dkd_mixup).
        "kd_std_mixup": {"temperature": 1.0, "alpha": 0.1},
        "dist_mixup": {"dist_temperature": 1.0, "dist_beta": 2.0},
        "dkd_mixup": {"dkd_temperature": 1.0, "dkd_beta": 1.0},
        # --config.tune_methods=dkd_std_mixup: DKD on standardized logits.
        "dkd_std_mixup": {"dkd_temperature": 1.0, "dkd_beta": 1.0, "alpha": 0.5},
    },
    "cnn_flat_w8": {
        "kd": {"temperature": 2.0, "alpha": 0.5},
        "dist": {"dist_temperature": 1.0, "dist_beta": 2.0},
        "kd_std": {"temperature": 2.0, "alpha": 0.1},
    },
}
SECOND_TEACHER = shipped.path("fashion_mnist_cnn_flat_w8_60ep.keras")
ENSEMBLE = {"second_teacher": SECOND_TEACHER, "curve_widths": ()}

VARIANTS = {
    "mlp_two_teachers": {
        **ENSEMBLE,
        "students": "mlp",
        "seeds": (0, 1, 2, 3, 4),
        "rows": "scratch,scratch+mixup,kd+mixup,kd+mixup (2 teachers)",
    },
    "mlp_logit_methods": {"students": "mlp", "rows": "scratch,dkd,dist,kd std", "curve_widths": ()},
    "mlp_ensemble_logit": {
        **ENSEMBLE,
        "students": "mlp",
        "seeds": (0, 1, 2, 3, 4),
        "rows": "scratch,scratch+mixup,kd+mixup (2 teachers),kd std+mixup (2 teachers),dist+mixup (2 teachers)",
    },
    "mlp_strong_mixup": {
        **ENSEMBLE,
        "students": "mlp",
        "mixup": 1.0,
        "rows": "scratch,scratch+mixup,kd+mixup (2 teachers),kd std+mixup (2 teachers)",
    },
    "mlp_views32": {
        **ENSEMBLE,
        "students": "mlp",
        "views": 32,
        "rows": "scratch,scratch+mixup,kd std+mixup (2 teachers),kd+mixup (2 teachers)",
    },
    "cnn_30_epochs": {
        **ENSEMBLE,
        "students": "cnn",
        "epochs": 30,
        "rows": "scratch,scratch+mixup,kd (2 teachers)",
    },
    "cnn_logit_methods": {
        **ENSEMBLE,
        "students": "cnn",
        "epochs": 30,
        "rows": "scratch,scratch+mixup,kd (2 teachers),kd std (2 teachers),dist (2 teachers)",
    },
    "cnn_views32": {
        **ENSEMBLE,
        "students": "cnn",
        "epochs": 30,
        "views": 32,
        "rows": "scratch,scratch+mixup,dist+mixup (2 teachers),kd std+mixup (2 teachers),kd+mixup (2 teachers)",
    },
    "view_cache_parity": {
        "students": "cnn",
        "augment": "on",
        "rows": "scratch,kd online,kd top-5",
        "curve_widths": (),
    },
    "smoke": {"smoke": True},
}


def get_config(variant=""):
    config = config_lib.config_dict(Settings, tuned=TUNED, collect=False)
    return config_lib.with_variant(config, variant, VARIANTS)
