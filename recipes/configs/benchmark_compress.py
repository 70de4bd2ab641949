"""Configs of `recipes/benchmark_compress.py` (`make benchmark-compress`): students cut out of the teacher.

    python recipes/benchmark_compress.py --workdir=workdirs/benchmark_compress

The shipped cnn_teacher (92.94%) cut to each of `keeps` (the fraction of each layer's
channels), distilled `epochs` epochs over `seeds`, against the same architecture from random
weights (kd, scratch, and scratch with shifts and flips on the first seed, kept on the others
only if it won on validation); also distilled in `short_epochs`. Writes compress.md and
compress.png (validation curves, compression curve). Resumable.

Variants (after the colon; 2 CPU cores, about 7 min a 10-epoch training with the cores shared):
  (none)   uniform pruning, keeps 0.5 and 0.32 (40,154 and 16,316 parameters), 3 seeds, 10
           epochs: pruned + kd 92.19 ± 0.08 and 90.72 ± 0.16, random init + kd 91.72 ± 0.14
           and 89.87 ± 0.14, scratch 91.76 ± 0.16 and 89.85 ± 0.48 (commit ca2796d,
           recipes/results/compress.md).
  search   the same sizes with the channels allocated per layer by tfkd.pruning.search_keep
           (recipes/results/compress_remedies.md).
  embed_whole  the penultimate Dense (t_embed, 128 units) left whole, the five convolutions at
           keeps 0.46 and 0.28 (38,601 and 17,402 parameters, 24.5% and 11.0%); with
           --config.keeps=0.46,0.32,0.28, 3 seeds: pruned + kd 91.87 ± 0.11, 90.86 ± 0.17,
           90.14 ± 0.11, random init + kd 91.40, 90.06, 89.56 (commit 8fb20ac,
           recipes/results/compress_embed_whole.md). With --config.epochs=3 / 5 and
           --config.short_epochs=0: pruned + kd +1.9 to +2.0 / +1.1 to +1.5 points over both
           random-init rows (recipes/results/compress_budget.md).
  reconstruct  embed_whole at keeps 0.46 and 0.32 with each cut layer re-fitted by least
           squares on the calibration images (prune_width(reconstruct=True)); seed 0 at 3
           epochs: 89.79% and 84.12% against 90.95% and 89.08% sliced (docs/pruning.md).
  patient  embed_whole at keep 0.46, 30 epochs, every row on mixup (0.2) views (no shifts or flips),
           kd replaying the teacher on 8 cached views of each image (patient, consistent
           teaching, Beyer et al. 2022); scratch also without augmentation. Seeds 0-1 (commit
           9e85268): pruned + kd 92.34 ± 0.25, random init + kd 92.33 ± 0.11, scratch
           92.03 ± 0.12 (recipes/results/compress_patient.md); 15 min a row.
  patient_ensemble  patient with kd from the shipped teacher and ResNet-14 together (the cut
           stays from the shipped teacher). Its pruned + kd row over seeds 0-1 (run as
           recipes/compress.py with --config.teachers, commit 1b40373): 92.51 ± 0.16, 52% of
           the gap to the teacher closed (recipes/results/compress_patient_ensemble.md).
  slimming  embed_whole at keep 0.46 cut from the teacher's copy after 3 epochs of network
           slimming's sparsity training (L1 1e-3 on the BatchNorm scales, distilled from the
           teacher), by BatchNorm scale; 10 epochs, and 6 (1/5 of the patient baselines' 30).
           Seeds 0-2 (commit 64fc587): pruned + kd 92.32 ± 0.05 at 10 epochs (92.13 ± 0.10 at 6),
           random init + kd 91.34 ± 0.19, scratch 91.44 ± 0.38 (recipes/results/
           compress_slimming_table.md); with --config.keeps=0.32 (13.2%): 91.34 ± 0.12 against
           89.89 ± 0.25 and 89.92 ± 0.11, +1.45 / +1.43 paired
           (recipes/results/compress_slimming.md); about 20 min a seed alone.
  smoke    tiny slices (tests).
"""

from recipes.lib import config as config_lib
from recipes.lib import shipped
from recipes.lib.benchmark_compress import Settings

VARIANTS = {
    "search": {"keep_by": "search"},
    "embed_whole": {"keeps": (0.46, 0.28), "keep_whole": "t_embed"},
    "reconstruct": {"keeps": (0.46, 0.32), "keep_whole": "t_embed", "reconstruct": True},
    "patient": {
        "keeps": (0.46,),
        "keep_whole": "t_embed",
        "epochs": 30,
        "short_epochs": 0,
        "mixup": 0.2,
        "views": 8,
    },
    "slimming": {
        "keeps": (0.46,),
        "keep_whole": "t_embed",
        "importance": "bn_scale",
        "sparsity": 1e-3,
        "sparsity_epochs": 3,
        "short_epochs": 6,
    },
    "smoke": {"smoke": True},
}
# patient, with kd from the shipped teacher and the shipped ResNet-14 together.
VARIANTS["patient_ensemble"] = {
    **VARIANTS["patient"],
    "teachers": f"{shipped.TEACHER},{shipped.path('fashion_mnist_resnet14_teacher.keras')}",
}


def get_config(variant=""):
    return config_lib.with_variant(config_lib.config_dict(Settings), variant, VARIANTS)
