"""The artefacts the repository ships: the reference teachers (with their
records) and the file `tune.py` writes its searches to
(`recipes/results/tuned.json`; the configs that use a result carry its
values)."""

import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
TEACHER = os.path.join(ROOT, "saved_models", "fashion_mnist_cnn_teacher.keras")
TUNED = os.path.join(ROOT, "recipes", "results", "tuned.json")


def path(name):
    """The absolute path of the shipped file `saved_models/<name>`."""
    return os.path.join(ROOT, "saved_models", name)


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
