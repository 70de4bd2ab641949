"""Configs of `recipes/distill.py`: one training run, distilled or from scratch.

    python recipes/distill.py --config=recipes/configs/distill.py:mlp_kd --workdir=workdirs/mlp_kd
    python recipes/distill.py --config.method=kd+at --config.epochs=4   # any field: --config.<field>=

Variants (after the colon; times are on 2 CPU cores, results on the test split):
  (none)            cnn_small (7.7k parameters) distilled with kd from the shipped teacher,
                    20 epochs, shifts and flips, T = 2, α = 0.5.
  mlp_kd            the demo's distilled student: mlp_small w128 (118k parameters), 30 epochs,
                    no augmentation, teacher logits cached, T = 2 and α = 0.5 (tune.py on the
                    validation split: 91.23% there, recipes/results/tuned.json). `make demo`
                    (fresh clone, commit 22dc58f): 90.01 ± 0.14 over seeds 0-2.
  mlp_scratch       the same student and schedule from scratch: 89.61 ± 0.27 (same run).
  mlp_kd_mixup      function matching on the MLP (60 epochs, mixup 0.2, the teacher on 8 cached
                    mixed views): 90.28 ± 0.10 over 5 seeds (commit 050e6a9, docs/results.md);
                    205-320 s a run with the cores shared (mlp_two_teachers.csv).
  cnn_two_teachers  cnn_flat w8 (27k parameters) from the ensemble of the shipped teacher and
                    the shipped 60-epoch cnn_flat, 30 epochs: 91.70 ± 0.25 over 3 seeds, +0.59
                    over its best scratch row (recipes/results/cnn_30_epochs.md); 253-555 s a run
                    with the cores shared (cnn_30_epochs.csv).
  cnn_flat_60       the second member of that ensemble: cnn_flat w8 from scratch, 60 epochs
                    with shifts and flips: 91.48% (saved_models/fashion_mnist_cnn_flat_w8_60ep.json).
  smoke             a few steps on a small slice (tests).
"""

from recipes.lib import config as config_lib
from recipes.lib import shipped

TEACHER = shipped.TEACHER
SECOND_TEACHER = shipped.path("fashion_mnist_cnn_flat_w8_60ep.keras")
MLP = dict(student="mlp_small", student_width=128, augment=False, epochs=30, teacher=TEACHER)
KD_MLP = dict(temperature=2.0, alpha=0.5, cache_teacher=True, views=1)  # tune.py, validation split

VARIANTS = {
    "mlp_kd": {**MLP, **KD_MLP, "method": "kd"},
    "mlp_scratch": {**MLP, "method": "scratch", "teacher": "", "reference_teacher": TEACHER},
    "mlp_kd_mixup": {**MLP, **KD_MLP, "method": "kd", "epochs": 60, "mixup": 0.2, "views": 8},
    "cnn_two_teachers": {
        "student": "cnn_flat",
        "student_width": 8,
        "augment": False,
        "epochs": 30,
        "method": "kd",
        "teachers": f"{TEACHER},{SECOND_TEACHER}",
        "cache_teacher": True,
        "views": 1,
    },
    "cnn_flat_60": {
        "student": "cnn_flat",
        "student_width": 8,
        "augment": True,
        "epochs": 60,
        "method": "scratch",
        "teacher": "",
        "reference_teacher": TEACHER,
    },
    "smoke": {"smoke": True, "epochs": 1},
}


def get_config(variant=""):
    config = config_lib.config_dict(teacher=TEACHER)
    return config_lib.with_variant(config, variant, VARIANTS)
