"""DKD, DIST and logit standardization against float64 NumPy references on
seeded random logits: values, gradients (against central differences of the
reference) and the identities the papers state."""

import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tfkd.losses.decoupled_kd import dkd_parts

L = tfkd.losses


def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def kl(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum(-1)


def zscore(z):
    z = np.asarray(z, np.float64)
    c = z - z.mean(-1, keepdims=True)
    return c / (np.sqrt((c**2).mean(-1, keepdims=True)) + 1e-7)


def dkd_reference_parts(t, s, labels, temperature, gt=None):
    """float64 TCKD, NCKD and p_target per example, from their definitions
    (the target class `gt`, by default the labels' argmax)."""
    gt = np.argmax(labels, -1) if gt is None else gt
    p = np.exp(log_softmax(np.asarray(t, np.float64) / temperature))
    q = np.exp(log_softmax(np.asarray(s, np.float64) / temperature))
    rows = np.arange(len(gt))
    pt, qt = p[rows, gt], q[rows, gt]
    tckd = kl(np.stack([pt, 1 - pt], 1), np.stack([qt, 1 - qt], 1))
    mask = np.ones_like(p, bool)
    mask[rows, gt] = False
    p_hat = np.where(mask, p, 0) / (1 - pt)[:, None]
    q_hat = np.where(mask, q, 0) / (1 - qt)[:, None]
    return tckd, kl(p_hat, np.where(mask, q_hat, 1.0)), pt


def dkd_reference(t, s, labels, temperature, alpha, beta, standardize=False):
    if standardize:
        t, s = zscore(t), zscore(s)
    tckd, nckd, _ = dkd_reference_parts(t, s, labels, temperature)
    return temperature**2 * np.mean(alpha * tckd + beta * nckd)


def pearson_rows(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-8)


def dist_reference(t, s, temperature, beta, gamma):
    p = np.exp(log_softmax(np.asarray(t, np.float64) / temperature))
    q = np.exp(log_softmax(np.asarray(s, np.float64) / temperature))
    inter = 1 - pearson_rows(q, p).mean()
    intra = 1 - pearson_rows(q.T, p.T).mean()
    return temperature**2 * (beta * inter + gamma * intra)


def soft_labels_reference(t, s, temperature, standardize):
    if standardize:
        t, s = zscore(t), zscore(s)
    p = np.exp(log_softmax(np.asarray(t, np.float64) / temperature))
    q = np.exp(log_softmax(np.asarray(s, np.float64) / temperature))
    return temperature**2 * kl(p, q).mean()


def numeric_gradient(f, s, h=1e-5):
    """Central differences of a float64 function of the student logits."""
    s = np.asarray(s, np.float64)
    grad = np.zeros_like(s)
    for idx in np.ndindex(s.shape):
        up, down = s.copy(), s.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (f(up) - f(down)) / (2 * h)
    return grad


def tf_gradient(loss, t, s, **kwargs):
    s = tf.Variable(s, dtype=tf.float32)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(t, tf.float32), s, **kwargs)
    return tape.gradient(value, s).numpy()


def _logits(seed, shape=(16, 10), scale=3.0):
    rng = np.random.default_rng(seed)
    t = (rng.normal(size=shape) * scale).astype("float32")
    s = (rng.normal(size=shape) * scale).astype("float32")
    labels = np.eye(shape[1], dtype="float32")[rng.integers(0, shape[1], shape[0])]
    return t, s, labels


@pytest.mark.parametrize("temperature", [1.0, 4.0])
@pytest.mark.parametrize("alpha, beta", [(1.0, 8.0), (0.5, 2.0), (1.0, 0.0)])
@pytest.mark.parametrize("standardize", [False, True])
def test_dkd_matches_float64_reference(temperature, alpha, beta, standardize):
    t, s, labels = _logits(301)
    loss = L.DecoupledKD(temperature=temperature, alpha=alpha, beta=beta, standardize=standardize)
    got = float(loss(t, s, labels=labels))
    want = dkd_reference(t, s, labels, temperature, alpha, beta, standardize)
    assert abs(got - want) <= max(1e-5 * abs(want), 1e-6), (got, want)


def test_dkd_identity_kd_is_tckd_plus_weighted_nckd():
    """KL(p‖q) = TCKD + (1 − p_target)·NCKD (Zhao et al., eq. 6), in float32
    against the float64 KL, and in float64 for the reference itself."""
    t, s, labels = _logits(302, scale=4.0)
    tckd, nckd, p_target = (x.numpy().astype(np.float64) for x in dkd_parts(t, s, labels, 2.0))
    p = np.exp(log_softmax(t / 2.0))
    q = np.exp(log_softmax(s / 2.0))
    np.testing.assert_allclose(tckd + (1 - p_target) * nckd, kl(p, q), rtol=1e-5, atol=1e-6)
    r_tckd, r_nckd, r_pt = dkd_reference_parts(t, s, labels, 2.0)
    np.testing.assert_allclose(r_tckd + (1 - r_pt) * r_nckd, kl(p, q), rtol=1e-10)
    np.testing.assert_allclose(tckd, r_tckd, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(nckd, r_nckd, rtol=1e-4, atol=1e-7)
    # So DKD with α = 1 and β = 1 − p_target is KD, example by example.
    soft = float(L.SoftLabels(2.0)(t, s))
    assert abs(4.0 * np.mean(tckd + (1 - p_target) * nckd) - soft) <= 1e-5 * soft


def test_dkd_gradient_matches_central_differences():
    t, s, labels = _logits(303, shape=(6, 5))
    loss = L.DecoupledKD(temperature=2.0, alpha=1.0, beta=8.0)
    got = tf_gradient(loss, t, s, labels=labels)
    want = numeric_gradient(lambda x: dkd_reference(t, x, labels, 2.0, 1.0, 8.0), s)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)


def test_dkd_with_mixed_labels_takes_the_dominant_class_as_target():
    t, s, _ = _logits(304)
    rng = np.random.default_rng(304)
    a, b = rng.integers(0, 10, 16), rng.integers(0, 10, 16)
    lam = rng.uniform(0.5, 1.0, 16)
    mixed = lam[:, None] * np.eye(10)[a] + (1 - lam)[:, None] * np.eye(10)[b]
    loss = L.DecoupledKD(temperature=4.0)
    want = float(loss(t, s, labels=np.eye(10, dtype="float32")[a]))
    assert float(loss(t, s, labels=mixed.astype("float32"))) == pytest.approx(want, rel=1e-6)


def dkd_weighted_reference(t, s, labels, temperature, alpha, beta):
    """float64 DKD with mixed labels read as λ·DKD(a) + (1 − λ)·DKD(b) over
    the two classes of largest label weight (labels mix at most two)."""
    order = np.argsort(-labels, axis=-1, kind="stable")[:, :2]
    weights = np.take_along_axis(np.asarray(labels, np.float64), order, -1)
    weights /= weights.sum(-1, keepdims=True)
    total = 0.0
    for i in range(2):
        tckd, nckd, _ = dkd_reference_parts(t, s, labels, temperature, gt=order[:, i])
        total = total + weights[:, i] * (alpha * tckd + beta * nckd)
    return temperature**2 * np.mean(total)


@pytest.mark.parametrize("temperature, alpha, beta", [(1.0, 1.0, 1.0), (4.0, 1.0, 8.0), (2.0, 0.5, 0.0)])
def test_dkd_with_label_weighted_targets_matches_float64_reference(temperature, alpha, beta):
    t, s, _ = _logits(307)
    rng = np.random.default_rng(307)
    a = rng.integers(0, 10, 16)
    b = (a + rng.integers(1, 10, 16)) % 10  # a different class: a real mix
    lam = rng.beta(0.2, 0.2, 16)
    mixed = (lam[:, None] * np.eye(10)[a] + (1 - lam)[:, None] * np.eye(10)[b]).astype("float32")
    loss = L.DecoupledKD(temperature=temperature, alpha=alpha, beta=beta, mixed_labels="weighted")
    got = float(loss(t, s, labels=mixed))
    want = dkd_weighted_reference(t, s, mixed, temperature, alpha, beta)
    assert abs(got - want) <= max(1e-5 * abs(want), 1e-6), (got, want)
    # Not the dominant-class reading: the second class is a target here.
    dominant = float(L.DecoupledKD(temperature=temperature, alpha=alpha, beta=beta)(t, s, labels=mixed))
    assert abs(got - dominant) > 1e-3 * abs(want)


def test_dkd_label_weighted_gradient_matches_central_differences():
    t, s, _ = _logits(308, shape=(6, 5))
    labels = np.zeros((6, 5), "float32")
    labels[np.arange(6), [0, 1, 2, 3, 4, 0]] = [0.7, 0.4, 1.0, 0.55, 0.2, 0.9]
    labels[np.arange(6), [1, 3, 2, 0, 2, 4]] += [0.3, 0.6, 0.0, 0.45, 0.8, 0.1]
    loss = L.DecoupledKD(temperature=2.0, alpha=1.0, beta=8.0, mixed_labels="weighted")
    got = tf_gradient(loss, t, s, labels=labels)
    want = numeric_gradient(lambda x: dkd_weighted_reference(t, x, labels, 2.0, 1.0, 8.0), s)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)


def test_dkd_label_weighted_is_dkd_for_one_hot_labels():
    t, s, labels = _logits(309)
    weighted = float(L.DecoupledKD(mixed_labels="weighted")(t, s, labels=labels))
    assert weighted == pytest.approx(float(L.DecoupledKD()(t, s, labels=labels)), rel=1e-6)


def test_dkd_warmup_is_linear_in_the_step():
    t, s, labels = _logits(305)
    loss = L.DecoupledKD(warmup_steps=10)
    full = float(L.DecoupledKD()(t, s, labels=labels))
    for step, factor in ((0, 0.0), (5, 0.5), (10, 1.0), (40, 1.0)):
        assert float(loss(t, s, step=tf.constant(step), labels=labels)) == pytest.approx(factor * full, rel=1e-6)


def test_dkd_needs_labels():
    t, s, _ = _logits(306)
    with pytest.raises(ValueError, match="needs the true labels"):
        L.DecoupledKD()(t, s)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
@pytest.mark.parametrize("beta, gamma", [(1.0, 1.0), (2.0, 2.0), (1.0, 0.0)])
def test_dist_matches_float64_reference(temperature, beta, gamma):
    t, s, _ = _logits(311)
    got = float(L.DIST(temperature=temperature, beta=beta, gamma=gamma)(t, s))
    want = dist_reference(t, s, temperature, beta, gamma)
    assert abs(got - want) <= max(1e-5 * abs(want), 1e-6), (got, want)


def test_dist_gradient_matches_central_differences():
    t, s, _ = _logits(312, shape=(6, 5))
    got = tf_gradient(L.DIST(temperature=2.0, beta=1.0, gamma=2.0), t, s)
    want = numeric_gradient(lambda x: dist_reference(t, x, 2.0, 1.0, 2.0), s)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)


def test_dist_is_zero_for_the_teachers_own_predictions():
    t, _, _ = _logits(313)
    assert abs(float(L.DIST(temperature=4.0)(t, t))) <= 1e-5


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_standardized_soft_labels_match_float64_reference(temperature):
    t, s, _ = _logits(321, scale=20.0)
    got = float(L.SoftLabels(temperature, standardize=True)(t, s))
    want = soft_labels_reference(t, s, temperature, True)
    assert abs(got - want) <= max(1e-5 * abs(want), 1e-6), (got, want)


def test_standardized_soft_labels_ignore_logit_scale_and_offset():
    t, s, _ = _logits(322)
    loss = L.SoftLabels(2.0, standardize=True)
    base = float(loss(t, s))
    assert float(loss(5.0 * t + 3.0, 0.25 * s - 7.0)) == pytest.approx(base, rel=1e-4)
    assert float(L.SoftLabels(2.0)(5.0 * t, s)) != pytest.approx(float(L.SoftLabels(2.0)(t, s)), rel=1e-2)


def test_standardized_soft_labels_gradient_matches_central_differences():
    t, s, _ = _logits(323, shape=(6, 5))
    got = tf_gradient(L.SoftLabels(2.0, standardize=True), t, s)
    want = numeric_gradient(lambda x: soft_labels_reference(t, x, 2.0, True), s)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        L.DecoupledKD(temperature=2.0, alpha=0.5, beta=4.0, warmup_steps=100, standardize=True, weight=0.3),
        L.DecoupledKD(temperature=1.0, beta=1.0, mixed_labels="weighted"),
        L.DIST(temperature=4.0, beta=2.0, gamma=2.0, weight=0.5),
        L.SoftLabels(3.0, weight=0.2, standardize=True),
    ],
    ids=lambda l: type(l).__name__,
)
def test_config_round_trip(loss):
    again = L.get({"class_name": type(loss).__name__, "config": loss.get_config()})
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    t, s, labels = _logits(331)
    kwargs = {"labels": labels} if loss.needs_labels else {}
    assert float(again(t, s, **kwargs)) == pytest.approx(float(loss(t, s, **kwargs)), rel=1e-6)
