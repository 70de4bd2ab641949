"""The artefacts the repository ships: the reference teacher and the tuned
distillation settings."""

import hashlib
import json
import os

from recipes.lib.tune import tuned_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
TEACHER = os.path.join(ROOT, "saved_models", "fashion_mnist_cnn_teacher.keras")
TUNED = os.path.join(ROOT, "recipes", "results", "tuned.json")


def teacher_path():
    """The shipped Fashion-MNIST teacher (`.keras`), beside its JSON record."""
    return TEACHER


def teacher_record():
    with open(os.path.splitext(TEACHER)[0] + ".json") as f:
        return json.load(f)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tuned(config, method):
    """`config` with the settings tune.py found for its student and method."""
    if not os.path.exists(TUNED):
        return config
    with open(TUNED) as f:
        return tuned_config(config, json.load(f), method)
