"""tfkd.cache_teacher_views: teacher outputs on seeded augmented views,
replayed exactly; the teacher never runs in fit."""

import os

import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_student, tiny_teacher
from tfkd.taps import LOGITS

L = tfkd.losses
AUG = dict(shift=1, flip=True, mixup=0.3)


def _distiller(losses=None, counter=False):
    d = tfkd.Distiller(
        tiny_teacher(counter=counter), tiny_student(), losses=losses or [L.SoftLabels(2.0)], student_loss_weight=0.5
    )
    d.compile(keras.optimizers.SGD(0.05), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    return d


def _first(ds, k=1):
    it = iter(ds)
    return [next(it) for _ in range(k)]


@pytest.mark.parametrize("top_k", [None, 3])
def test_replayed_logits_equal_the_teacher_on_the_regenerated_batch(top_k):
    x, y = tiny_data(48)
    d = _distiller()
    ds, steps = tfkd.cache_teacher_views(
        d, (x, y), 16, seed=2, augment=tfkd.data.Augment(**AUG), views=3, top_k=top_k, verbose=0
    )
    for inputs, _ in _first(ds, 2 * steps):
        replayed = inputs["tfkd_teacher"][0][LOGITS].numpy()
        live = d.teacher_outputs(inputs["tfkd_inputs"])[0][LOGITS].numpy()
        # The fill ran the teacher on batches of another composition (other kernel blockings), so the
        # stored logits equal a fresh pass to float32 rounding over the teacher's layers (~1e-6 on logits
        # of order 1); a wrong view or example differs by order 1.
        if top_k is None:
            np.testing.assert_allclose(replayed, live, atol=1e-5, rtol=0)
        else:
            top = np.argsort(-live, axis=1)[:, :top_k]
            np.testing.assert_allclose(
                np.take_along_axis(replayed, top, 1), np.take_along_axis(live, top, 1), atol=1e-5, rtol=0
            )


def test_views_vary_between_epochs_and_resume_exactly():
    x, y = tiny_data(32)
    d = _distiller()
    aug = tfkd.data.Augment(shift=1, flip=True)
    ds, steps = tfkd.cache_teacher_views(d, (x, y), 8, seed=0, augment=aug, views=4, verbose=0)
    full = [b[0]["tfkd_inputs"].numpy() for b in _first(ds, 3 * steps)]
    resumed, _ = tfkd.cache_teacher_views(d, (x, y), 8, seed=0, augment=aug, views=4, first_epoch=2, verbose=0)
    for a, b in zip(full[2 * steps :], [b[0]["tfkd_inputs"].numpy() for b in _first(resumed, steps)]):
        np.testing.assert_array_equal(a, b)
    # With 4 views, epochs show an example under different augmentations.
    assert not all(np.array_equal(full[i], full[steps + i]) for i in range(steps))


def test_the_teacher_never_runs_in_fit_on_cached_views():
    x, y = tiny_data(32)
    d = _distiller(counter=True)
    counter = d.get_teachers()[0].get_layer("t_counter").count
    ds, steps = tfkd.cache_teacher_views(d, (x, y), 8, augment=tfkd.data.Augment(**AUG), views=2, verbose=0)
    filled = int(counter.numpy())
    d.fit(ds, epochs=2, steps_per_epoch=steps, verbose=0)
    assert int(counter.numpy()) == filled
    assert int(d.optimizer.iterations.numpy()) == 2 * steps


def test_disk_cache_is_reused_and_the_fingerprint_follows_every_setting(tmp_path):
    x, y = tiny_data(16)
    d = _distiller()
    kw = dict(batch_size=8, seed=0, views=2, cache_dir=str(tmp_path), verbose=0)
    tfkd.cache_teacher_views(d, (x, y), augment=tfkd.data.Augment(shift=1), **kw)
    tfkd.cache_teacher_views(d, (x, y), augment=tfkd.data.Augment(shift=1), **kw)
    assert len(os.listdir(tmp_path)) == 1
    for aug in (
        tfkd.data.Augment(shift=2),
        tfkd.data.Augment(shift=1, flip=True),
        tfkd.data.Augment(shift=1, mixup=0.2),
    ):
        tfkd.cache_teacher_views(d, (x, y), augment=aug, **kw)
    tfkd.cache_teacher_views(d, (x, y), augment=tfkd.data.Augment(shift=1), **{**kw, "views": 3})
    tfkd.cache_teacher_views(d, (x, y), augment=tfkd.data.Augment(shift=1), top_k=2, **kw)
    assert len(os.listdir(tmp_path)) == 6
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]


def test_cache_size_is_values_plus_indices_plus_tail():
    d = _distiller()
    full, _ = tfkd.teacher_cache.cache_size(d, 1000, views=8)
    top, _ = tfkd.teacher_cache.cache_size(d, 1000, views=8, top_k=5)
    assert full == 1000 * 8 * 10 * 4
    assert top == 1000 * 8 * (5 * (4 + 1) + 4)  # float32 values, uint8 classes, float32 tail


def test_teacher_and_student_see_the_same_augmented_batch():
    # Online consistent teaching: one tensor feeds both networks in a step.
    seen = {}

    class Record(keras.layers.Layer):
        def build(self, shape):
            self.last = self.add_weight(shape=(8,) + tuple(shape[1:]), initializer="zeros", trainable=False)

        def call(self, x):
            self.last.assign(x)
            return x

    def model(name, width):
        i = keras.Input((8, 8, 1))
        r = Record(name=f"{name}_record")
        seen[name] = r
        h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(width, 3)(r(i)))
        return keras.Model(i, keras.layers.Dense(10)(h), name=name)

    teacher, student = model("t", 4), model("s", 2)
    d = tfkd.Distiller(teacher, student, losses=[L.SoftLabels()], student_loss_weight=0.5)
    d.compile(keras.optimizers.SGD(0.01), loss=sparse_ce())
    x, y = tiny_data(8)
    ds, _ = tfkd.data.seeded_epochs((x, y), 8, augment=tfkd.data.Augment(shift=2, flip=True))
    d.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    got_t, got_s = seen["t"].last.numpy(), seen["s"].last.numpy()
    np.testing.assert_array_equal(got_t, got_s)
    assert np.abs(got_s).sum() > 0


def test_feature_taps_are_cached_and_sized():
    x, y = tiny_data(16)
    d = _distiller(losses=[L.SoftLabels(2.0), L.FeatureHint("t_block2", "s_block2")])
    ds, _ = tfkd.cache_teacher_views(d, (x, y), 8, augment=tfkd.data.Augment(shift=1), views=2, verbose=0)
    inputs, _ = next(iter(ds))
    assert inputs["tfkd_teacher"][0]["t_block2"].shape == (8, 4, 4, 24)
    _, features = tfkd.teacher_cache.cache_size(d, 16, views=2)
    assert features == 16 * 2 * 4 * 4 * 24 * 4


def test_two_teachers_are_cached_and_replayed():
    x, y = tiny_data(16)
    teachers = [tiny_teacher(name="a"), tiny_teacher(name="b")]
    d = tfkd.Distiller(teachers, tiny_student(), losses=[L.SoftLabels(2.0)], student_loss_weight=0.5)
    d.compile(keras.optimizers.SGD(0.05), loss=sparse_ce())
    ds, steps = tfkd.cache_teacher_views(d, (x, y), 8, augment=tfkd.data.Augment(shift=1), views=2, verbose=0)
    inputs, _ = next(iter(ds))
    live = d.teacher_outputs(inputs["tfkd_inputs"])
    for i in range(2):
        np.testing.assert_allclose(inputs["tfkd_teacher"][i][LOGITS], live[i][LOGITS], atol=1e-5)
    d.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
