"""CRD: one step against a float64 NumPy reference (scores, Z, NCE loss,
memory update), the negatives' draw, resumption of the memory banks, and
training through the Distiller with indexed data and the view cache."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_student, tiny_teacher
from tfkd.losses.contrastive import CRD, nce_loss

N, B, K, D = 40, 8, 16, 6


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def nce_reference(pos, neg, n):
    noise = neg.shape[1] / n
    return -np.mean(np.log(pos / (pos + noise + 1e-7)) + np.log(noise / (neg + noise + 1e-7)).sum(1))


def _built_crd(teacher_dim=12, student_dim=5, **kwargs):
    loss = CRD(feature_dim=D, negatives=K, num_examples=N, **kwargs)
    loss.build((None, teacher_dim), (None, student_dim))
    return loss


def test_nce_loss_matches_float64_reference():
    rng = np.random.default_rng(401)
    pos, neg = rng.uniform(0.1, 3, B), rng.uniform(0.01, 2, (B, K))
    got = float(nce_loss(tf.constant(pos, tf.float32), tf.constant(neg, tf.float32), N))
    assert got == pytest.approx(nce_reference(pos, neg, N), rel=1e-5)


def test_nce_gradients_match_float64_reference():
    """d loss / d p = −c / (p (p + c)) / B and d loss / d q = 1 / (q + c) / B, c = K / N + ε."""
    rng = np.random.default_rng(404)
    pos, neg = rng.uniform(0.1, 3, B), rng.uniform(0.01, 2, (B, K))
    pos_t, neg_t = tf.Variable(pos, dtype=tf.float32), tf.Variable(neg, dtype=tf.float32)
    with tf.GradientTape() as tape:
        value = nce_loss(pos_t, neg_t, N)
    got_pos, got_neg = tape.gradient(value, [pos_t, neg_t])
    c = K / N + 1e-7
    np.testing.assert_allclose(got_pos.numpy(), -c / (pos * (pos + c)) / B, rtol=1e-5)
    np.testing.assert_allclose(got_neg.numpy(), 1 / (neg + c) / B, rtol=1e-5)


def test_one_step_matches_float64_reference():
    rng = np.random.default_rng(402)
    loss = _built_crd(temperature=0.1, momentum=0.5)
    t = rng.normal(size=(B, 12)).astype("float32")
    s = rng.normal(size=(B, 5)).astype("float32")
    idx = rng.permutation(N)[:B].astype("int64")
    mem = loss.memory
    banks = {k: getattr(mem, k).numpy().astype(np.float64) for k in ("student_bank", "teacher_bank")}
    ws = [w.numpy().astype(np.float64) for w in mem.embed_student.weights]
    wt = [w.numpy().astype(np.float64) for w in mem.embed_teacher.weights]
    step = 7
    got = float(loss(t, s, step=tf.constant(step, tf.int64), indices=idx))

    seed = tf.constant([0x43524400, step], tf.int64)
    negatives = tf.random.stateless_uniform([K], seed=seed, maxval=N, dtype=tf.int64).numpy()
    v_s = unit(s.astype(np.float64) @ ws[0] + ws[1])
    v_t = unit(t.astype(np.float64) @ wt[0] + wt[1])

    def side(anchor, bank):
        pos = np.exp((anchor * bank[idx]).sum(1) / 0.1)
        neg = np.exp(anchor @ bank[negatives].T / 0.1)
        z = np.concatenate([pos[:, None], neg], 1).mean() * N
        return pos / z, neg / z, z

    ps, ns, zs = side(v_s, banks["teacher_bank"])
    pt, nt, zt = side(v_t, banks["student_bank"])
    want = nce_reference(ps, ns, N) + nce_reference(pt, nt, N)
    assert got == pytest.approx(want, rel=1e-4)
    np.testing.assert_allclose(mem.normalizers.numpy(), [zs, zt], rtol=1e-4)
    # Momentum update of the batch's rows; every other row untouched.
    for name, v in (("student_bank", v_s), ("teacher_bank", v_t)):
        new = getattr(mem, name).numpy()
        np.testing.assert_allclose(new[idx], unit(0.5 * banks[name][idx] + 0.5 * v), rtol=1e-5, atol=1e-6)
        others = np.setdiff1d(np.arange(N), idx)
        np.testing.assert_array_equal(new[others], banks[name][others].astype("float32"))
    # Z stays fixed after the first batch.
    loss(t, s, step=tf.constant(8, tf.int64), indices=idx)
    np.testing.assert_allclose(mem.normalizers.numpy(), [zs, zt], rtol=1e-4)


def test_gradients_reach_both_heads_and_the_student_only():
    rng = np.random.default_rng(403)
    loss = _built_crd()
    t = tf.constant(rng.normal(size=(B, 12)), tf.float32)
    s = tf.Variable(rng.normal(size=(B, 5)), dtype=tf.float32)
    idx = tf.constant(rng.permutation(N)[:B], tf.int64)
    heads = loss.memory.trainable_weights
    assert len(heads) == 4 and not any("bank" in w.path for w in heads)
    with tf.GradientTape() as tape:
        value = loss(t, s, step=tf.constant(0, tf.int64), indices=idx)
    grads = tape.gradient(value, [s, *heads])
    assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in grads)


def _crd_distiller(n):
    teacher, student = tiny_teacher(), tiny_student()
    crd = CRD(feature_dim=8, negatives=32, num_examples=n)
    d = tfkd.Distiller(teacher, student, losses=[tfkd.losses.SoftLabels(2.0), crd], student_loss_weight=0.5)
    d.compile(keras.optimizers.Adam(1e-2), loss=sparse_ce())
    return d


def test_penultimate_features_are_the_default_taps():
    d = _crd_distiller(16)
    route = d._frozen.plan.routes[1]
    assert (route.teacher_key, route.student_key) == ("t_embed", "s_embed")
    assert tfkd.taps.penultimate_path(tiny_teacher(softmax=True)) == "t_embed"


def test_trains_from_indexed_batches_and_its_banks_resume(tmp_path):
    x, y = tiny_data(64)
    d = _crd_distiller(64)
    ds, steps = tfkd.data.seeded_epochs((x, y), 16, with_indices=True)
    h = d.fit(ds, epochs=2, steps_per_epoch=steps, verbose=0).history
    assert np.isfinite(h["crd"]).all() and h["crd"][-1] > 0
    bank = d.adapters[0].student_bank.numpy()
    path = str(tmp_path / "run.weights.h5")
    d.save_weights(path)
    again = _crd_distiller(64)
    again.load_weights(path)
    np.testing.assert_array_equal(again.adapters[0].student_bank.numpy(), bank)
    np.testing.assert_array_equal(again.adapters[0].normalizers.numpy(), d.adapters[0].normalizers.numpy())


def test_trains_on_cached_teacher_views():
    x, y = tiny_data(32)
    d = _crd_distiller(32)
    aug = tfkd.data.Augment(shift=1)
    cached, steps = tfkd.cache_teacher_views(d, (x, y), batch_size=16, augment=aug, views=2, verbose=0)
    first = next(iter(cached))[0]
    assert "t_embed" in first["tfkd_teacher"][0] and first["tfkd_index"].dtype == tf.int64
    h = d.fit(cached, epochs=1, steps_per_epoch=steps, verbose=0).history
    assert np.isfinite(h["crd"][0])


def test_config_round_trip():
    loss = CRD(feature_dim=32, negatives=100, temperature=0.1, momentum=0.9, weight=0.5, num_examples=1000)
    again = tfkd.losses.get({"class_name": "CRD", "config": loss.get_config()})
    assert again.get_config() == loss.get_config() and again.teacher_layer == loss.teacher_layer
