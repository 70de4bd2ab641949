"""The artefacts the repository ships: the reference teacher and the tuned
distillation settings (`recipes/results/tuned.json`, written by `tune.py`,
read here and nowhere else)."""

import dataclasses
import hashlib
import json
import os

from recipes.lib.config import Config

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


def student_key(config):
    """The student's key in tuned.json: its name and width."""
    return f"{config.student}_w{config.student_width}" if config.student_width else config.student


def tuned_config(config, tuned, method):
    """`config` with the settings in `tuned` (tuned.json's content) for its
    student and `method` (unchanged where nothing was tuned)."""
    found = tuned.get(student_key(config), {}).get(method, {})
    fields = {f.name for f in dataclasses.fields(Config)}
    return dataclasses.replace(config, **{k: v for k, v in found.items() if k in fields})
