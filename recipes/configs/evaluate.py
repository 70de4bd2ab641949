"""Configs of `recipes/evaluate.py`: the test accuracy of a saved model.

    python recipes/evaluate.py --config.model=saved_models/fashion_mnist_mlp_kd

`model` is a `.keras` file or an exported SavedModel folder; the data fields are those of
recipes/configs/distill.py (`dataset`, `data_dir`, `batch_size`, `smoke`). Seconds on 2 CPU
cores for the 10,000 Fashion-MNIST test images.

Variants: `smoke` (a small slice, for tests).
"""

from recipes.lib import config as config_lib

VARIANTS = {"smoke": {"smoke": True}}


def get_config(variant=""):
    return config_lib.with_variant(config_lib.config_dict(model=""), variant, VARIANTS)
