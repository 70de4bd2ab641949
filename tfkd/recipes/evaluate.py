"""Library side of `recipes/evaluate.py`."""

import os

import numpy as np
import tensorflow as tf

from tfkd.recipes import common


def run(config, model_path):
    """Test accuracy of a saved `.keras` model or an exported SavedModel.

    Args:
        config: a `tfkd.recipes.config.Config` (dataset, batch size, smoke).
        model_path: a `.keras` file or a SavedModel folder from export.

    Returns:
        `{"test_accuracy": float, "examples": int}`.

    Raises:
        ValueError: if the model cannot be found or loaded.
    """
    config.validate()
    _, test, _ = common.splits(config)
    if os.path.isdir(model_path):
        served = tf.saved_model.load(model_path).signatures["serving_default"]
        predict = lambda x: served(images=x)["logits"]
    else:
        model = common.load_model(model_path, "model")
        predict = lambda x: model(x, training=False)
    correct = total = 0
    for x, y in test:
        correct += int(np.sum(np.argmax(predict(x), -1) == y.numpy()))
        total += int(y.shape[0])
    return {"test_accuracy": correct / total, "examples": total}
