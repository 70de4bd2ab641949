"""Library side of `recipes/evaluate.py`."""

import os

import numpy as np
import tensorflow as tf

from recipes.lib import common
from recipes.lib import config as config_lib


def _predictor(model_path):
    """A function from float images to logits, for a `.keras` file, a
    SavedModel folder or a LiteRT `.tflite` file (run by the LiteRT
    interpreter, not TensorFlow)."""
    if model_path.endswith(".tflite"):
        from tfkd.litert_model import LiteRTModel

        if not os.path.exists(model_path):
            raise ValueError(f"The model file {model_path!r} does not exist.")
        lite = LiteRTModel(model_path)
        return lambda x: lite.predict(np.asarray(x))
    if os.path.isdir(model_path):
        served = tf.saved_model.load(model_path).signatures["serving_default"]
        return lambda x: served(images=tf.constant(x, tf.float32))["logits"].numpy()
    model = common.load_model(model_path, "model")
    return lambda x: model(x, training=False).numpy()


def accuracy_of(model_path, examples):
    """Accuracy of a saved model on `(images, labels)` arrays or a dataset."""
    predict = _predictor(model_path)
    batches = [examples] if isinstance(examples, tuple) else examples
    correct = total = 0
    for x, y, *_ in batches:
        y = np.asarray(y)
        y = np.argmax(y, -1) if y.ndim == 2 else y
        correct += int(np.sum(np.argmax(predict(np.asarray(x)), -1) == y))
        total += int(len(y))
    return correct / max(total, 1)


def run(config, workdir):
    """`recipes/evaluate.py`: `evaluate_model` with a config of
    `recipes/configs/evaluate.py` (`model` and the data fields).

    Returns:
        `{"test_accuracy": float, "examples": int}`.

    Raises:
        ValueError: for a missing `model` or bad settings.
    """
    if not config.model:
        raise ValueError("evaluate needs --config.model=<.keras file, SavedModel folder or .tflite file>.")
    return evaluate_model(config_lib.training_config(config, workdir, ignore=("model",)), config.model)


def evaluate_model(config, model_path):
    """Test accuracy of a saved `.keras` model, an exported SavedModel or a
    LiteRT `.tflite` file.

    Args:
        config: a `recipes.lib.config.Config` (dataset, batch size, smoke).
        model_path: a `.keras` file, a SavedModel folder or a `.tflite` file.

    Returns:
        `{"test_accuracy": float, "examples": int}`.

    Raises:
        ValueError: if the model cannot be found or loaded.
    """
    config.validate()
    x, y = common.split_arrays(config)["test"]
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x
    return {"test_accuracy": accuracy_of(model_path, (x, y)), "examples": int(len(y))}
