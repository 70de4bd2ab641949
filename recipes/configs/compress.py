"""Configs of `recipes/compress.py`: a student cut out of the teacher, distilled, int8.

    python recipes/compress.py --config=recipes/configs/compress.py:quarter --workdir=workdirs/compress

Variants (after the colon; results on the test split, 2 CPU cores):
  (none), quarter  the shipped cnn_teacher cut to half its channels (40,154 parameters, 25.5%),
           10 epochs of kd on cached logits (T = 2, α = 0.5), int8 LiteRT: 92.19 ± 0.08 over
           3 seeds, int8 92.17 ± 0.04 (make benchmark-compress, commit ca2796d;
           recipes/results/compress.md); about 7 min a training with the cores shared.
  tenth    keep 0.32 (16,316 parameters, 10.4%): 90.72 ± 0.16, int8 90.62 ± 0.16 (same run).
  resnet14_width  the shipped ResNet-14 at keep 0.7 (86,538 parameters), 5 epochs: 93.04%,
           int8 93.06% (seed 0; recipes/results/compress_resnet14.md).
  resnet14_depth  the ResNet-14 with 3 of its 4 droppable blocks removed (78,426 parameters),
           5 epochs: 92.31%, int8 92.35% (same file).
  slimming keep 0.46 with t_embed whole, cut by BatchNorm scale from the teacher's copy after 3
           epochs of sparsity training (L1 1e-3 on its BatchNorm scales, distilled from the
           teacher; network slimming, Liu et al. 2017), then 10 epochs of kd: 92.32 ± 0.05 over
           3 seeds, int8 92.32 ± 0.08 (commit c3d867d; recipes/results/compress_slimming.md);
           with --config.keep=0.32 (20,840 parameters, 13.2%): 91.34 ± 0.12, int8 91.39 ± 0.15;
           about 4 min for the sparsity phase and 5 min for the kd, cores shared.
  slimming_dist  slimming with DIST instead of kd (T = 1, β = γ = 2: tune.py's pick for the CNN
           students, recipes/results/tuned.json cnn_flat_w8 dist); chosen on seed 0's validation
           split for the cut student (93.58% against kd's 93.50%; standardized kd 93.58%).
           3 seeds (commit 7d062da): 92.52 ± 0.08, int8 92.51 ± 0.01, +1.10 / +1.08 over the same
           architecture from random weights with DIST / scratch, 72% of the gap closed
           (recipes/results/compress_slimming_dist.md), every row at peak LR 2e-3. With each row's
           learning rate chosen on validation (--config.learning_rate=8e-3 for this row; 1.6e-2 for
           random init + DIST, 4e-3 for scratch): 92.65 ± 0.02, +0.14 / +0.86, 75%
           (recipes/results/compress_learning_rate.md).
  fifth_dist  1/5 of the baselines' 10 epochs: the BatchNorm-scale cut of the shipped teacher (no
           sparsity phase), 2 epochs of DIST without warm-up at peak LR 8e-3 (learning rate and batch
           size chosen on seed 0's validation split): 91.43 ± 0.12 over 3 seeds, int8 91.43 ± 0.10
           (recipes/results/compress_learning_rate.md), level with 10 epochs of scratch at 2e-3
           (91.44 ± 0.38), below scratch at its own best learning rate. With
           --config.epochs=3 --config.warmup_epochs=1 --config.learning_rate=1.6e-2 (chosen on
           validation): 91.85 ± 0.01, level with scratch's 10 epochs at its own rate (3/10). With
           --config.epochs=6 --config.warmup_epochs=1 --config.learning_rate=3.2e-2: 92.36 ± 0.18,
           +0.30 over scratch trained 30 epochs at its own rate (92.07 ± 0.10): 1/5 of a converged
           scratch budget. At 2 epochs it leads random init + DIST (1.6e-2) by +1.95 and scratch (4e-3)
           by +2.83 (recipes/results/compress_learning_rate.md). With --config.keep=0.32
           --config.learning_rate=4e-3 (20,840 parameters, 13.2%): 90.04 ± 0.31, +1.89 over
           random init + DIST (1.6e-2) and +2.42 over scratch (1.6e-2); there 6 epochs
           (1.6e-2: 91.33 ± 0.14) stay 0.66 below scratch's 30 (91.99 ± 0.05).
  smoke    a few steps on a small slice (tests).

Besides the training fields (recipes/configs/distill.py; the pruning ones are keep, keep_by,
keep_whole, drop_blocks, importance, round_to, reconstruct, sparsity, sparsity_epochs, sparsity_from):
`export` ("int8" or "none") and `baselines` (also train the pruned architecture from random weights, scratch and kd).
"""

from recipes.lib import compress, shipped
from recipes.lib import config as config_lib

COMPRESS = dict(**compress.TRAINING, epochs=10, method="kd")
RESNET14 = dict(teacher=shipped.path("fashion_mnist_resnet14_teacher.keras"), epochs=5)

VARIANTS = {
    "quarter": {"keep": 0.5},
    "tenth": {"keep": 0.32},
    "resnet14_width": {**RESNET14, "keep": 0.7},
    "resnet14_depth": {**RESNET14, "keep": 1.0, "drop_blocks": 3},
    "slimming": {
        "keep": 0.46,
        "keep_whole": "t_embed",
        "importance": "bn_scale",
        "sparsity": 1e-3,
        "sparsity_epochs": 3,
    },
    "smoke": {"smoke": True, "epochs": 1},
}
# DIST with the settings tune.py chose for cnn_flat w8 (Huang et al. 2022).
VARIANTS["slimming_dist"] = {
    **VARIANTS["slimming"],
    "method": "dist",
    "dist_temperature": 1.0,
    "dist_beta": 2.0,
    "dist_gamma": 2.0,
}
# 1/5 of the baselines' 10 epochs: the BatchNorm-scale cut of the shipped teacher (no sparsity
# phase), 2 epochs of DIST without warm-up at the peak learning rate chosen on validation.
VARIANTS["fifth_dist"] = {
    **VARIANTS["slimming_dist"],
    "sparsity": 0.0,
    "epochs": 2,
    "warmup_epochs": 0.0,
    "learning_rate": 8e-3,
}


def get_config(variant=""):
    config = config_lib.config_dict(teacher=shipped.TEACHER, export="int8", baselines=False, **COMPRESS)
    return config_lib.with_variant(config, variant, VARIANTS)
