import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_dataset, tiny_student, tiny_teacher


def _distiller(teacher=None):
    d = tfkd.Distiller(
        teacher or tiny_teacher(counter=True),
        tiny_student(),
        losses=[tfkd.losses.SoftLabels(2.0), tfkd.losses.FeatureHint("t_block2", "s_block1")],
    )
    d.compile(keras.optimizers.SGD(0.05), loss=sparse_ce())
    return d


def test_cached_fit_skips_teacher_and_matches_online_fit(tmp_path):
    online, cached = _distiller(), _distiller()
    cached.student.set_weights(online.student.get_weights())
    for a, b in zip(cached.adapters, online.adapters):
        a.set_weights(b.get_weights())
    cached.get_teachers()[0].set_weights(online.get_teachers()[0].get_weights())
    ds = tiny_dataset(n=32)
    h1 = online.fit(ds, epochs=3, verbose=0).history
    data = tfkd.cache_teacher_outputs(cached, ds, str(tmp_path))
    counter = cached.get_teachers()[0].get_layer("t_counter").count
    h2 = cached.fit(data, epochs=1, verbose=0).history  # computes the cache
    start = int(counter.numpy())
    h2["loss"] += cached.fit(data, epochs=2, verbose=0).history["loss"]
    assert int(counter.numpy()) == start  # later epochs never run the teacher
    # Cached and online teacher outputs differ by float32 rounding only (other batch blockings), so the
    # epoch losses (~2) agree to ~1e-6 relative; a stale or shuffled cache moves them by ~1e-1.
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)
    again = tfkd.cache_teacher_outputs(cached, ds, str(tmp_path))
    before = int(counter.numpy())
    cached.fit(again, epochs=1, verbose=0)
    assert int(counter.numpy()) == before  # reused from disk


def test_changed_teacher_recomputes(tmp_path):
    d = _distiller()
    ds = tiny_dataset(n=16)
    d.fit(tfkd.cache_teacher_outputs(d, ds, str(tmp_path)), epochs=1, verbose=0)
    d.get_teachers()[0].get_layer("t_logits").bias.assign(tf.ones(10))
    counter = d.get_teachers()[0].get_layer("t_counter").count
    before = int(counter.numpy())
    d.fit(tfkd.cache_teacher_outputs(d, ds, str(tmp_path)), epochs=1, verbose=0)
    assert int(counter.numpy()) > before


def test_random_augmentation_is_refused():
    generator = tf.random.Generator.from_non_deterministic_state()
    ds = tiny_dataset(n=16).map(lambda x, y: (x + generator.normal(tf.shape(x)), y))
    with pytest.raises(ValueError, match="different inputs on two passes.*stateless"):
        tfkd.cache_teacher_outputs(_distiller(), ds)


def test_cache_from_another_distiller_is_refused():
    other = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.FeatureHint("t_block1", "s_block1")])
    data = tfkd.cache_teacher_outputs(other, tiny_dataset(n=16))
    with pytest.raises(ValueError, match="do not fit this Distiller"):
        _distiller().fit(data, epochs=1, verbose=0)


def test_jit_compile_and_no_retracing():
    d = tfkd.Distiller(
        tiny_teacher(),
        tiny_student(),
        losses=[tfkd.losses.SoftLabels(), tfkd.losses.FeatureHint("t_block2", "s_block1")],
    )
    traces = []
    original = d.train_step
    d.train_step = lambda data: (traces.append(1), original(data))[1]
    d.compile("adam", loss=sparse_ce(), jit_compile=True)
    h = d.fit(tiny_dataset(n=64), epochs=1, verbose=0).history
    after_first_epoch = len(traces)
    h = d.fit(tiny_dataset(n=64), epochs=3, verbose=0).history
    assert np.isfinite(h["loss"]).all()
    assert len(traces) == after_first_epoch  # no retracing per step or epoch


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_nonfinite_batch_is_skipped_and_named(policy):
    d = tfkd.Distiller(tiny_teacher(), tiny_student(dtype=policy), losses=[tfkd.losses.SoftLabels()])
    d.compile("sgd", loss=sparse_ce())
    x, y = tiny_data(32)
    x[16] = np.nan
    with pytest.warns(UserWarning, match="epoch 0, batch 1"):
        h = d.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    assert h["nonfinite_steps"] == [1.0]
    assert all(np.all(np.isfinite(w.numpy())) for w in d.student.weights)  # BatchNorm statistics too
    raising = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()], on_nonfinite="raise")
    raising.compile("sgd", loss=sparse_ce())
    with pytest.raises(Exception, match="not finite"):
        raising.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)


def test_top_k_logits_keep_the_top_classes_and_the_mass_of_the_rest():
    d = _distiller()
    ds = tiny_dataset(n=32)
    full = next(iter(tfkd.cache_teacher_outputs(d, ds)))[0]["tfkd_teacher"][0]["__logits__"].numpy()
    same = next(iter(tfkd.cache_teacher_outputs(d, ds, top_k=10)))[0]["tfkd_teacher"][0]["__logits__"].numpy()
    np.testing.assert_array_equal(same, full)  # k >= classes: unchanged
    top3 = next(iter(tfkd.cache_teacher_outputs(d, ds, top_k=3)))[0]["tfkd_teacher"][0]["__logits__"].numpy()
    # float64 reference: the 3 largest logits kept, every other class gets
    # the log-mean-exp of the 7 dropped ones.
    full64 = full.astype(np.float64)
    order = np.argsort(-full64, axis=-1)
    want = full64.copy()
    for row in range(len(full64)):
        dropped = full64[row, order[row, 3:]]
        want[row, order[row, 3:]] = np.log(np.mean(np.exp(dropped)))
    np.testing.assert_allclose(top3, want, rtol=1e-5, atol=1e-5)

    # At temperature 1 the dropped classes keep exactly their probability mass.
    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    dropped = np.ones_like(full64, bool)
    np.put_along_axis(dropped, order[:, :3], False, -1)
    np.testing.assert_allclose(
        (softmax(top3.astype(np.float64)) * dropped).sum(-1), (softmax(full64) * dropped).sum(-1), rtol=1e-4
    )
    h = d.fit(tfkd.cache_teacher_outputs(d, ds, top_k=3), epochs=2, verbose=0).history
    assert np.isfinite(h["loss"]).all()
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        tfkd.cache_teacher_outputs(d, ds, top_k=0)
