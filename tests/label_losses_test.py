"""Losses that read the true labels, through the Distiller: sparse and
one-hot labels give the same term, mixup labels reach them, several teachers
and mixed precision work, and the student still runs once per step."""

import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import tiny_data, tiny_student, tiny_teacher

L = tfkd.losses


class _Recorder(keras.callbacks.Callback):
    def __init__(self, key):
        super().__init__()
        self.key, self.values = key, []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs[self.key]))


def _first_term(labels, loss_fn, key="dkd", losses=None):
    keras.utils.set_random_seed(0)
    teacher = tiny_teacher()
    keras.utils.set_random_seed(1)
    d = tfkd.Distiller(teacher, tiny_student(), losses=losses or [L.DecoupledKD(temperature=2.0)])
    d.compile(keras.optimizers.SGD(0.0), loss=loss_fn)
    x, _ = tiny_data(32)
    rec = _Recorder(key)
    d.fit(x, labels, batch_size=32, epochs=1, verbose=0, callbacks=[rec])
    return rec.values[0], d


def test_sparse_and_one_hot_labels_give_the_same_dkd_term():
    _, y = tiny_data(32)
    sparse, d = _first_term(y, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    one_hot, _ = _first_term(np.eye(10, dtype="float32")[y], keras.losses.CategoricalCrossentropy(from_logits=True))
    column, _ = _first_term(y[:, None], keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    int_one_hot, _ = _first_term(np.eye(10, dtype="int64")[y], keras.losses.CategoricalCrossentropy(from_logits=True))
    assert sparse == pytest.approx(one_hot, rel=1e-6) and sparse == pytest.approx(column, rel=1e-6)
    assert sparse == pytest.approx(int_one_hot, rel=1e-6)
    # The same value as the loss called directly on the two models' logits.
    x, _ = tiny_data(32)
    t = d.get_teachers()[0](x)
    s = d.student(x, training=True)
    want = float(L.DecoupledKD(temperature=2.0)(t, s, labels=np.eye(10, dtype="float32")[y]))
    assert sparse == pytest.approx(want, rel=1e-4)


def test_mixup_labels_reach_dkd():
    x, y = tiny_data(32)
    aug = tfkd.data.Augment(mixup=0.4, num_classes=10)
    ds, steps = tfkd.data.seeded_epochs((x, y), 16, augment=aug)
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[L.DecoupledKD(), L.DIST()])
    d.compile(keras.optimizers.Adam(1e-2), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    h = d.fit(ds, epochs=2, steps_per_epoch=steps, verbose=0).history
    assert np.isfinite(h["dkd"]).all() and np.isfinite(h["dist"]).all()


def test_two_teachers_average_the_label_losses():
    _, y = tiny_data(32)
    keras.utils.set_random_seed(0)
    a, b = tiny_teacher(name="a"), tiny_teacher(name="b")
    keras.utils.set_random_seed(1)
    d = tfkd.Distiller([a, b], tiny_student(), losses=[L.DecoupledKD(temperature=2.0)], teacher_weights=[1.0, 3.0])
    d.compile(keras.optimizers.SGD(0.0), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, _ = tiny_data(32)
    rec = _Recorder("dkd")
    d.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[rec])
    s = d.student(x, training=True)
    onehot = np.eye(10, dtype="float32")[y]
    each = [float(L.DecoupledKD(temperature=2.0)(m(x), s, labels=onehot)) for m in (a, b)]
    assert rec.values[0] == pytest.approx(0.25 * each[0] + 0.75 * each[1], rel=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: L.DecoupledKD(warmup_steps=2),
        lambda n: L.DIST(temperature=4.0),
        lambda n: L.SoftLabels(2.0, standardize=True),
        lambda n: L.CRD(feature_dim=8, negatives=16, num_examples=n),
    ],
    ids=["dkd", "dist", "kd_standardized", "crd"],
)
def test_mixed_float16_student_trains_with_every_new_loss(make):
    x, y = tiny_data(64)
    d = tfkd.Distiller(tiny_teacher(), tiny_student(dtype="mixed_float16"), losses=[make(64)], student_loss_weight=0.5)
    d.compile(keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
    ds, steps = tfkd.data.seeded_epochs((x, y), 16, with_indices=True)
    h = d.fit(ds, epochs=3, steps_per_epoch=steps, verbose=0).history
    name = d.distillation_losses[0].name
    assert np.isfinite(h[name]).all() and h["loss"][-1] < h["loss"][0]
    assert all(w.dtype == "float32" for w in d.student.weights)  # float32 master weights


def test_indexed_batches_carry_the_examples_positions():
    x, y = tiny_data(20)
    ds, steps = tfkd.data.seeded_epochs((x, y), 8, with_indices=True)
    seen = []
    for inputs, labels in ds.take(steps):
        idx = inputs["tfkd_index"].numpy()
        np.testing.assert_array_equal(inputs["tfkd_inputs"].numpy(), x[idx])
        np.testing.assert_array_equal(labels.numpy(), y[idx])
        seen.extend(idx)
    assert sorted(seen) == list(range(20))  # one epoch visits every example once
    with pytest.raises(ValueError, match="with_indices=True\\) needs examples of the form"):
        tfkd.data.seeded_epochs(x, 8, with_indices=True)
