import numpy as np
import pytest
import tensorflow as tf

import tfkd


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def reference(t, s, temperature, teacher_weights=None):
    """float64 closed form: T² · mean_b Σ_k p (log p − log q)."""
    ts = [np.asarray(x, np.float64) for x in (t if isinstance(t, list) else [t])]
    s = np.asarray(s, np.float64)
    w = np.ones(len(ts)) if teacher_weights is None else np.asarray(teacher_weights, np.float64)
    w = w / w.sum()
    p = sum(wk * np.exp(_log_softmax(tk / temperature)) for wk, tk in zip(w, ts))
    log_q = _log_softmax(s / temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - log_q), 0.0).sum(-1)
    return temperature**2 * kl.mean()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 10.0, 100.0])
def test_matches_float64_reference(temperature, scale):
    rng = np.random.default_rng(201)
    t = (rng.uniform(-1, 1, (32, 10)) * scale).astype("float32")
    s = (rng.uniform(-1, 1, (32, 10)) * scale).astype("float32")
    got = float(tfkd.losses.SoftLabels(temperature)(t, s))
    want = reference(t, s, temperature)
    assert got >= 0
    assert abs(got - want) <= max(1e-4 * abs(want), 1e-5), (got, want)


def test_float16_inputs_are_computed_in_float32():
    rng = np.random.default_rng(202)
    t = (rng.normal(size=(16, 100)) * 30).astype("float16")
    s = (rng.normal(size=(16, 100)) * 30).astype("float16")
    got = tfkd.losses.SoftLabels(2.0)(tf.constant(t), tf.constant(s))
    assert got.dtype == tf.float32
    want = reference(t.astype(np.float64), s.astype(np.float64), 2.0)
    assert abs(float(got) - want) <= 1e-4 * abs(want)


def test_zero_when_equal_and_nonnegative():
    rng = np.random.default_rng(203)
    z = (rng.normal(size=(64, 10)) * 50).astype("float32")
    assert abs(float(tfkd.losses.SoftLabels(3.0)(z, z))) <= 1e-5


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_gradient_is_t_times_q_minus_p_over_batch(temperature):
    rng = np.random.default_rng(204)
    t = tf.constant(rng.normal(size=(8, 5)) * 5, tf.float32)
    s = tf.Variable(rng.normal(size=(8, 5)) * 5, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tfkd.losses.SoftLabels(temperature)(t, s)
    grad = tape.gradient(loss, s).numpy()
    p = np.exp(_log_softmax(t.numpy().astype(np.float64) / temperature))
    q = np.exp(_log_softmax(s.numpy().astype(np.float64) / temperature))
    np.testing.assert_allclose(grad, temperature * (q - p) / 8, atol=1e-6, rtol=1e-4)


def test_no_gradient_flows_to_teacher():
    t = tf.Variable(tf.random.normal((4, 3)))
    with tf.GradientTape() as tape:
        loss = tfkd.losses.SoftLabels()(t, tf.random.normal((4, 3)))
    assert tape.gradient(loss, t) is None


def test_multi_teacher_averages_probabilities():
    rng = np.random.default_rng(205)
    t1, t2, s = (rng.normal(size=(16, 7)).astype("float32") * 4 for _ in range(3))
    loss = tfkd.losses.SoftLabels(2.0)
    got = float(loss.over_teachers([tf.constant(t1), tf.constant(t2)], tf.constant(s), None, [0.3, 0.7]))
    assert abs(got - reference([t1, t2], s, 2.0, [0.3, 0.7])) <= 1e-4 * reference([t1, t2], s, 2.0, [0.3, 0.7])
    # Averaging probabilities is not averaging logits.
    assert abs(got - reference((0.3 * t1 + 0.7 * t2), s, 2.0)) > 1e-3
    # Two identical teachers equal one; weights [1, 0] equal the first.
    same = float(loss([t1, t1], s))
    np.testing.assert_allclose(same, float(loss(t1, s)), rtol=1e-5)
    first = float(loss.over_teachers([tf.constant(t1), tf.constant(t2)], tf.constant(s), None, [1.0, 0.0]))
    np.testing.assert_allclose(first, float(loss(t1, s)), rtol=1e-5)


def test_config_round_trip_and_get():
    loss = tfkd.losses.SoftLabels(temperature=3.0, weight=0.5, name="kd")
    again = tfkd.losses.SoftLabels.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert isinstance(tfkd.losses.get("soft_labels"), tfkd.losses.SoftLabels)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        tfkd.losses.get("soft_label")


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        tfkd.losses.SoftLabels(temperature=bad)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_weight(bad):
    with pytest.raises(ValueError, match="weight"):
        tfkd.losses.SoftLabels(weight=bad)
