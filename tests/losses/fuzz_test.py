"""Property tests of every loss in tfkd.losses: random shapes, batches from
1, magnitudes from 1e-3 to 1e4, float16 and float32 inputs. The loss is
finite, >= 0, zero when teacher equals student, and invariant to the order
of the batch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfkd

L = tfkd.losses
FEATURE_LOSSES = {
    "fitnet": lambda: L.FeatureHint("t", "s", adapter=None),
    "at": lambda: L.AttentionTransfer("t", "s"),
    "rkd": lambda: L.RelationalKD("t", "s"),
    "sp": lambda: L.SimilarityPreserving("t", "s"),
    "pkt": lambda: L.ProbabilisticKT("t", "s"),
}
SPATIAL = {"at"}  # needs (B, H, W, C) feature maps


@st.composite
def pairs(draw, spatial):
    batch = draw(st.integers(1, 6))
    shape = (
        (batch, draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 6)))
        if spatial
        else (batch, draw(st.integers(1, 12)))
    )
    scale = 10.0 ** draw(st.floats(-3, 4))
    dtype = draw(st.sampled_from(["float16", "float32"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    t = (rng.normal(size=shape) * scale).astype(dtype)
    s = (rng.normal(size=shape) * scale).astype(dtype)
    return t, s, rng.permutation(batch)


def _check(loss, t, s, order):
    value = float(loss(t, s))
    assert np.isfinite(value) and value >= 0, value
    same = float(loss(t, t))
    assert abs(same) <= 1e-5, same
    permuted = float(loss(t[order], s[order]))
    np.testing.assert_allclose(permuted, value, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("name", list(FEATURE_LOSSES))
def test_feature_loss_properties(name):
    @settings(max_examples=60, deadline=None)
    @given(pairs(spatial=name in SPATIAL))
    def run(case):
        _check(FEATURE_LOSSES[name](), *case)

    run()


@settings(max_examples=80, deadline=None)
@given(pairs(spatial=False), st.sampled_from([0.5, 1.0, 4.0, 20.0]))
def test_soft_labels_properties(case, temperature):
    t, s, order = case
    _check(L.SoftLabels(temperature), t, s, order)
