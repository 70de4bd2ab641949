"""Least-squares reconstruction of pruned layers (prune_width(reconstruct=True)):
the fit against a float64 NumPy ridge solution, an exactly recovered function
when a pruned channel duplicates a kept one, and the refusals."""

import keras
import numpy as np
import pytest

import tfkd
from tfkd.pruning import reconstruction, width
from tfkd.pruning.channel_graph import ChannelGraph

# float32 forward passes (a few hundred terms per sum) against float64 algebra.
FLOAT32_SUMS = 1e-4


def _mlp(seed=0):
    keras.utils.set_random_seed(seed)
    i = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="hidden")(i)
    return keras.Model(i, keras.layers.Dense(5, name="out")(h))


def test_dense_refit_is_the_ridge_solution_pulled_toward_the_sliced_weights():
    model = _mlp()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    pruned = tfkd.prune_width(model, {"hidden": 0.5}, calibration_data=x, reconstruct=True)

    # Reference: the same fit as an augmented least-squares problem in float64.
    w1, b1 = [w.astype(np.float64) for w in model.get_layer("hidden").get_weights()]
    w2, b2 = [w.astype(np.float64) for w in model.get_layer("out").get_weights()]
    h = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
    kept = np.sort(np.argsort(-np.abs(h).mean(0), kind="stable")[:4])
    target = h @ w2 + b2
    xs = h[:, kept]
    d = len(kept)
    lam = 1e-3 * np.trace(xs.T @ xs) / d  # prune_width's default ridge
    design = np.vstack([np.c_[xs, np.ones(len(xs))], np.c_[np.sqrt(lam) * np.eye(d), np.zeros(d)]])
    rhs = np.vstack([target, np.sqrt(lam) * w2[kept]])
    want = np.linalg.lstsq(design, rhs, rcond=None)[0]
    got_w, got_b = pruned.get_layer("out").get_weights()
    np.testing.assert_allclose(got_w, want[:d], rtol=FLOAT32_SUMS, atol=FLOAT32_SUMS)
    np.testing.assert_allclose(got_b, want[d], rtol=FLOAT32_SUMS, atol=FLOAT32_SUMS)
    # A larger ridge stays nearer the sliced weights.
    graph = ChannelGraph(model)
    indices = {}
    other = width.cut(graph, width._fractions(graph, {"hidden": 0.5}), width.rank(graph, "activation", x), 1, indices)
    reconstruction.reconstruct(model, other, indices, x, ridge=0.05)
    far = np.abs(pruned.get_layer("out").get_weights()[0] - w2[kept]).sum()
    near = np.abs(other.get_layer("out").get_weights()[0] - w2[kept]).sum()
    assert near < far


def _duplicate_conv():
    """conv1's channel 3 is a copy of channel 0 and filters 1 and 2 are 3x
    larger, so magnitude pruning at 3/4 removes the copy (ties keep the lower
    index) and a refit of conv2 can give channel 0 both weights: the function
    comes back exactly."""
    keras.utils.set_random_seed(0)
    i = keras.Input((9, 9, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(i)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", name="conv2")(x)
    y = keras.layers.Dense(3, name="head")(keras.layers.Flatten()(keras.layers.ReLU()(x)))
    model = keras.Model(i, y)
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 1:3] *= 3.0
    kernel[..., 3] = kernel[..., 0]
    bias[3] = bias[0]
    model.get_layer("conv1").set_weights([kernel, bias])
    return model


def test_a_pruned_duplicate_channel_is_absorbed_exactly():
    model = _duplicate_conv()
    x = np.random.default_rng(2).normal(size=(64, 9, 9, 2)).astype(np.float32)
    keep = {"conv1": 0.75}
    sliced = tfkd.prune_width(model, keep, calibration_data=x, importance="magnitude")
    rebuilt = tfkd.prune_width(model, keep, calibration_data=x, importance="magnitude", reconstruct=True)
    assert rebuilt.get_layer("conv1").filters == 3
    want = model.predict(x, verbose=0)
    scale = np.abs(want).max()
    sliced_error = np.abs(sliced.predict(x, verbose=0) - want).max()
    assert sliced_error > 100 * FLOAT32_SUMS * scale  # slicing loses the copy's contribution
    # The default ridge pulls toward the sliced weights: most of the loss comes back.
    assert np.abs(rebuilt.predict(x, verbose=0) - want).max() < 0.1 * sliced_error
    # With a negligible pull all of it does, to float32 rounding.
    graph = ChannelGraph(model)
    indices = {}
    exact = width.cut(graph, width._fractions(graph, keep), width.rank(graph, "magnitude"), 1, indices)
    reconstruction.reconstruct(model, exact, indices, x, ridge=1e-9)
    np.testing.assert_allclose(exact.predict(x, verbose=0), want, atol=FLOAT32_SUMS * scale)


def test_reconstruct_reports_a_smaller_error_for_each_refitted_layer():
    model = _duplicate_conv()
    x = np.random.default_rng(3).normal(size=(64, 9, 9, 2)).astype(np.float32)
    graph = ChannelGraph(model)
    indices = {}
    fractions = width._fractions(graph, 0.5)
    pruned = width.cut(graph, fractions, width.rank(graph, "activation", x), 1, indices)
    errors = reconstruction.reconstruct(model, pruned, indices, x)
    assert set(errors) == {"conv2", "head"}  # the layers whose inputs were cut
    for before, after in errors.values():
        assert 0 <= after < before


def test_keep_one_with_reconstruct_is_the_same_function():
    model = _duplicate_conv()
    x = np.random.default_rng(4).normal(size=(16, 9, 9, 2)).astype(np.float32)
    same = tfkd.prune_width(model, 1.0, calibration_data=x, reconstruct=True)
    np.testing.assert_allclose(same.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_reconstruct_refusals():
    model = _mlp()
    x = np.zeros((8, 6), np.float32)
    with pytest.raises(ValueError, match="reconstruct=True re-fits"):
        tfkd.prune_width(model, 0.5, importance="magnitude", reconstruct=True)
    with pytest.raises(ValueError, match="`reconstruct` must be True or False"):
        tfkd.prune_width(model, 0.5, calibration_data=x, reconstruct="yes")
    with pytest.raises(ValueError, match="`ridge` must be a number > 0"):
        reconstruction.reconstruct(model, model, {}, x, ridge=0.0)
