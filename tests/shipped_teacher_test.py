"""The teacher the repository ships is the one its record describes."""

import numpy as np

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
