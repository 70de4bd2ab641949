import keras
import numpy as np
import pytest

from tfkd.loss_means import LossMeans


def test_means_and_sums_match_a_float64_reference():
    rng = np.random.default_rng(7)
    values, weights = rng.normal(size=(6, 4)), rng.uniform(0, 3, size=(6, 4))
    weights[2, 1] = 0.0
    metric = LossMeans(["a", "b", "c", "skipped"], sums=["skipped"])
    for v, w in zip(values, weights):
        metric.update_state(v.astype("float32"), w.astype("float32"))
    result = {k: float(v) for k, v in metric.result().items()}
    means = (values * weights).sum(0) / weights.sum(0)
    np.testing.assert_allclose([result["a"], result["b"], result["c"]], means[:3], rtol=1e-5)
    np.testing.assert_allclose(result["skipped"], (values[:, 3] * weights[:, 3]).sum(), rtol=1e-5)
    metric.reset_state()
    assert all(float(v) == 0.0 for v in metric.result().values())  # no weight yet: 0, not NaN


def test_a_scalar_weight_applies_to_every_name_and_the_config_round_trips():
    metric = LossMeans(["x", "y"])
    metric.update_state([1.0, 3.0], 2.0)
    metric.update_state([3.0, 5.0], 6.0)
    assert {k: float(v) for k, v in metric.result().items()} == {"x": 2.5, "y": 4.5}
    clone = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert (clone.names, clone.sums) == (["x", "y"], [])


@pytest.mark.parametrize("names, sums", [([], []), (["a", "a"], []), (["a"], ["b"])])
def test_bad_names_are_refused(names, sums):
    with pytest.raises(ValueError, match="LossMeans"):
        LossMeans(names, sums=sums)
