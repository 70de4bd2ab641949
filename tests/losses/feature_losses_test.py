"""Every feature loss against its float64 NumPy reference (references.py)."""

import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.losses import references as ref

RELATIONAL = [
    (tfkd.losses.RelationalKD, ref.rkd),
    (tfkd.losses.SimilarityPreserving, ref.similarity_preserving),
    (tfkd.losses.ProbabilisticKT, ref.pkt),
]


def _close(got, want, rtol=1e-5, atol=1e-7):
    assert abs(float(got) - want) <= max(rtol * abs(want), atol), (float(got), want)


@pytest.mark.parametrize("cls,reference", RELATIONAL)
@pytest.mark.parametrize("t_shape,s_shape", [((8, 16), (8, 5)), ((6, 4, 4, 3), (6, 2, 2, 7)), ((2, 3), (2, 9))])
@pytest.mark.parametrize("scale", [1e-2, 1.0, 30.0])
def test_relational_losses_match_reference(cls, reference, t_shape, s_shape, scale):
    rng = np.random.default_rng(101)
    t = (rng.normal(size=t_shape) * scale).astype("float32")
    s = (rng.normal(size=s_shape) * scale).astype("float32")
    got = cls("t", "s")(t, s)
    assert got.dtype == tf.float32 and float(got) >= 0
    _close(got, reference(t, s), rtol=1e-4 if cls is tfkd.losses.ProbabilisticKT else 1e-5)


@pytest.mark.parametrize("cls,reference", RELATIONAL)
def test_relational_zero_when_equal(cls, reference):
    f = np.random.default_rng(102).normal(size=(12, 20)).astype("float32")
    assert abs(float(cls("t", "s")(f, f))) <= 1e-6


def test_rkd_invariant_to_uniform_scaling():
    f = np.random.default_rng(103).normal(size=(10, 6)).astype("float32")
    assert abs(float(tfkd.losses.RelationalKD("t", "s")(f, 7.5 * f))) <= 1e-5


@pytest.mark.parametrize(
    "t_shape,s_shape", [((4, 6, 6, 8), (4, 6, 6, 3)), ((4, 6, 6, 8), (4, 12, 12, 2)), ((3, 8, 8, 2), (3, 4, 4, 5))]
)
def test_attention_transfer_matches_reference(t_shape, s_shape):
    rng = np.random.default_rng(104)
    t = rng.normal(size=t_shape).astype("float32") * 3
    s = rng.normal(size=s_shape).astype("float32") * 3
    got = tfkd.losses.AttentionTransfer("t", "s")(t, s)
    if t_shape[1:3] == s_shape[1:3]:
        want = ref.attention_transfer(t, s)
    else:  # the student's attention map is resized (bilinear) before normalising
        a_s = (s.astype(np.float64) ** 2).mean(-1, keepdims=True)
        a_s = tf.image.resize(a_s, t_shape[1:3], method="bilinear").numpy().astype(np.float64)
        a_t = ref.attention_map(t)
        want = np.mean((ref.unit_rows(a_s.reshape(len(a_s), -1)) - a_t) ** 2)
    _close(got, want)
    assert abs(float(tfkd.losses.AttentionTransfer("t", "s")(t, t))) <= 1e-7


def test_feature_hint_equal_shapes_is_mse():
    rng = np.random.default_rng(105)
    t, s = rng.normal(size=(2, 4, 4, 3)).astype("float32") * 100, rng.normal(size=(2, 4, 4, 3)).astype("float32") * 100
    _close(tfkd.losses.FeatureHint("t", "s")(t, s), ref.feature_hint(t, s))


@pytest.mark.parametrize(
    "t_shape,s_shape,kind",
    [
        ((None, 16), (None, 5), "Dense"),
        ((None, 8, 8, 16), (None, 8, 8, 4), "Conv2D"),
        ((None, 4, 4, 16), (None, 8, 8, 4), "Conv2D"),
        ((None, 8, 8, 16), (None, 3, 3, 4), "Sequential"),
    ],
)
def test_feature_hint_adapter_value(t_shape, s_shape, kind):
    rng = np.random.default_rng(106)
    loss = tfkd.losses.FeatureHint("t", "s")
    loss.build(t_shape, s_shape)
    assert type(loss.adapter).__name__ == kind
    t = rng.normal(size=(2,) + t_shape[1:]).astype("float32")
    s = rng.normal(size=(2,) + s_shape[1:]).astype("float32")
    adapted = loss.adapter(s).numpy()
    assert adapted.shape == t.shape
    _close(loss(t, s), ref.feature_hint(t, adapted))


def test_feature_hint_adapter_none_needs_equal_shapes():
    with pytest.raises(ValueError, match=r"adapter=None.*\(None, 8\).*\(None, 4\).*adapter='auto'"):
        tfkd.losses.FeatureHint("t", "s", adapter=None).build((None, 8), (None, 4))


@pytest.mark.parametrize(
    "cls",
    [
        tfkd.losses.RelationalKD,
        tfkd.losses.SimilarityPreserving,
        tfkd.losses.ProbabilisticKT,
        tfkd.losses.AttentionTransfer,
        tfkd.losses.FeatureHint,
    ],
)
def test_float16_inputs_and_config(cls):
    rng = np.random.default_rng(107)
    t = tf.constant(rng.normal(size=(4, 4, 4, 3)) * 200, tf.float16)  # squares overflow float16
    s = tf.constant(rng.normal(size=(4, 4, 4, 3)) * 200, tf.float16)
    got = cls("t", "s")(t, s)
    assert got.dtype == tf.float32 and np.isfinite(float(got))
    loss = cls("t", "s", weight=2.0, name="x")
    assert cls.from_config(loss.get_config()).get_config() == loss.get_config()


@pytest.mark.parametrize("cls,reference", RELATIONAL)
def test_gradients_are_finite_with_duplicate_rows(cls, reference):
    f = tf.Variable(np.repeat(np.random.default_rng(108).normal(size=(1, 6)), 4, 0), dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = cls("t", "s")(tf.random.normal((4, 6)), f)
    assert np.all(np.isfinite(tape.gradient(loss, f).numpy()))
