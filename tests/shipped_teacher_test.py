"""The teachers the repository ships are the ones their records describe."""

import json
import os

import numpy as np
import pytest

from recipes.lib import common, shipped
from tfkd import data


def test_the_shipped_teacher_matches_its_record():
    record = shipped.teacher_record()
    assert shipped.sha256(shipped.teacher_path()) == record["sha256"]
    model = common.load_model(shipped.teacher_path())
    assert model.count_params() == record["params"]
    # The first 2,000 test images: within 1.5 points of the recorded accuracy
    # over all 10,000 (a wrong or untrained file scores ~10%).
    x, y = data.load_arrays("fashion_mnist")["test"]
    pred = np.argmax(model.predict(data.to_float(x[:2000]), batch_size=500, verbose=0), -1)
    assert abs(np.mean(pred == y[:2000]) - record["test_accuracy"]) < 0.015


@pytest.mark.parametrize("name", ["fashion_mnist_cnn_flat_w8_60ep", "fashion_mnist_resnet14_teacher"])
def test_the_other_shipped_models_match_their_records(name):
    path = os.path.join(os.path.dirname(shipped.teacher_path()), f"{name}.keras")
    with open(path[: -len(".keras")] + ".json") as f:
        record = json.load(f)
    assert shipped.sha256(path) == record["sha256"]
    model = common.load_model(path)
    assert model.count_params() == record["params"]
    x, y = data.load_arrays("fashion_mnist")["test"]
    pred = np.argmax(model.predict(data.to_float(x[:2000]), batch_size=500, verbose=0), -1)
    assert abs(np.mean(pred == y[:2000]) - record["test_accuracy"]) < 0.015
