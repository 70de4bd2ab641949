"""Configs of `recipes/train_teacher.py`: a teacher trained from scratch.

    python recipes/train_teacher.py --workdir=workdirs/fmnist \
        --config.ship_to=saved_models/fashion_mnist_cnn_teacher.keras

Variants (after the colon; results on the test split, 2 CPU cores):
  (none)    cnn_teacher (157,610 parameters), 15 epochs, Adam 2e-3 with warm-up and cosine
            decay, 2-pixel shifts and flips: the shipped teacher, 92.94% (62-75 s an epoch
            alone; saved_models/fashion_mnist_cnn_teacher.json holds its command and commit).
  resnet14  the residual teacher (He et al.'s CIFAR ResNet at 28x28, 176,090 parameters),
            8 epochs: 92.31%, 1,400 s with the cores shared
            (saved_models/fashion_mnist_resnet14_teacher.json).
  smoke     a few steps on a small slice (tests).
"""

from recipes.lib import config as config_lib

VARIANTS = {
    "resnet14": {"teacher_model": "resnet14", "epochs": 8},
    "smoke": {"smoke": True},
}


def get_config(variant=""):
    return config_lib.with_variant(config_lib.config_dict(), variant, VARIANTS)
