import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_dataset, tiny_student, tiny_teacher


def _distiller(teacher=None, student=None, **kw):
    teacher = teacher or tiny_teacher()
    student = student or tiny_student()
    kw.setdefault("losses", [tfkd.losses.SoftLabels(4.0, weight=0.9), tfkd.losses.FeatureHint("t_block2", "s_block1")])
    d = tfkd.Distiller(teacher, student, **kw)
    d.compile(optimizer=keras.optimizers.SGD(0.05), loss=sparse_ce(), metrics=["accuracy"])
    return d


def test_student_runs_once_per_step_and_batchnorm_updates_once():
    student = tiny_student(counter=True)
    d = _distiller(student=student)
    x, y = tiny_data(16)
    bn = student.get_layer("s_bn")
    pre_bn = keras.Model(student.inputs, bn.input)
    mean = pre_bn(x).numpy().mean(axis=(0, 1, 2))  # before the update
    counter = student.get_layer("s_counter").count
    before = int(counter.numpy())
    d.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert int(counter.numpy()) - before == 1
    # One update of the moving mean from zeros: (1 - momentum) * batch mean.
    np.testing.assert_allclose(bn.moving_mean.numpy(), (1 - bn.momentum) * mean, rtol=1e-4, atol=1e-6)


def test_teacher_is_frozen_and_not_trained():
    teacher = tiny_teacher()
    before = [w.numpy().copy() for w in teacher.weights]
    d = _distiller(teacher=teacher)
    d.fit(tiny_dataset(), epochs=2, verbose=0)
    for b, w in zip(before, teacher.weights):
        np.testing.assert_array_equal(b, w.numpy())
    teacher_ids = {id(w) for w in teacher.weights}
    assert not teacher_ids & {id(w) for w in d.trainable_weights}
    assert not teacher_ids & {id(v) for v in d.optimizer.variables}
    assert not teacher_ids & {id(w) for w in d.weights}


def test_trainable_weights_are_student_plus_adapters():
    student = tiny_student()
    d = _distiller(student=student)
    adapter = d.distillation_losses[1].adapter
    assert adapter is not None
    want = {id(w) for w in student.trainable_weights} | {id(w) for w in adapter.trainable_weights}
    assert {id(w) for w in d.trainable_weights} == want


def test_validation_does_not_run_the_teacher():
    teacher = tiny_teacher(counter=True)
    d = _distiller(teacher=teacher)
    ds = tiny_dataset()
    d.fit(ds, epochs=1, verbose=0)
    count = int(teacher.get_layer("t_counter").count.numpy())
    assert count == 4
    logs = d.evaluate(ds, verbose=0, return_dict=True)
    assert int(teacher.get_layer("t_counter").count.numpy()) == count
    assert set(logs) == {"loss", "student_loss", "accuracy"}
    student_only = tiny_student()
    student_only.set_weights(d.student.get_weights())
    student_only.compile(loss=sparse_ce(), metrics=["accuracy"])
    np.testing.assert_allclose(logs["loss"], student_only.evaluate(ds, verbose=0)[0], rtol=1e-5)


def test_metrics_and_total_loss():
    d = _distiller()
    h = d.fit(tiny_dataset(), epochs=1, verbose=0).history
    for key in ("loss", "student_loss", "soft_labels", "hint_s_block1", "accuracy"):
        assert key in h, h.keys()
    # Weighted sum of the epoch means equals the mean of the totals.
    total = 0.1 * h["student_loss"][0] + 0.9 * h["soft_labels"][0] + h["hint_s_block1"][0]
    np.testing.assert_allclose(h["loss"][0], total, rtol=1e-5)


def test_soft_labels_tap_pre_softmax_logits():
    teacher, student = tiny_teacher(softmax=True), tiny_student(softmax=True)
    d = tfkd.Distiller(teacher, student, losses=[tfkd.losses.SoftLabels(2.0)])
    x, _ = tiny_data(8)
    taps = d._frozen.plan.student_taps(x)
    logits = taps[tfkd.taps.LOGITS].numpy()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), student(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(taps[tfkd.taps.OUTPUT].numpy(), student(x).numpy(), atol=1e-6)
    # Logits far from the probability range: they are not log-probabilities.
    assert np.abs(logits).max() > 0 and not np.allclose(np.exp(logits).sum(-1), 1.0)
    d.compile("adam", loss="sparse_categorical_crossentropy")
    d.fit(tiny_dataset(), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "s_layer,t_layer",
    [("s_embed", "t_embed"), ("s_block1", "t_block1"), ("s_block1", "t_block2"), ("s_block2", "t_block1")],
)
def test_adapters_train_and_student_size_is_unchanged(s_layer, t_layer):
    student = tiny_student()
    n = student.count_params()
    d = _distiller(student=student, losses=[tfkd.losses.FeatureHint(t_layer, s_layer)])
    h = d.fit(tiny_dataset(), epochs=3, verbose=0).history
    name = f"hint_{s_layer}"
    assert h[name][-1] < h[name][0]
    assert d.student.count_params() == n
    assert all("adapter" not in w.path for w in d.student.weights)


def test_call_and_predict_are_the_student():
    d = _distiller()
    x, _ = tiny_data(8)
    np.testing.assert_allclose(d.predict(x, verbose=0), d.student.predict(x, verbose=0), atol=1e-6)


def test_get_config_round_trip():
    d = _distiller(student_loss_weight=0.3)
    again = tfkd.Distiller.from_config(d.get_config())
    assert again.student_loss_weight == 0.3
    assert [type(l) for l in again.distillation_losses] == [type(l) for l in d.distillation_losses]
    assert again.student.count_params() == d.student.count_params()
    assert again.get_teachers()[0].count_params() == d.get_teachers()[0].count_params()


def test_save_weights_hold_no_teacher(tmp_path):
    d = _distiller()
    d.fit(tiny_dataset(), epochs=1, verbose=0)
    path = str(tmp_path / "d.weights.h5")
    d.save_weights(path)
    import h5py

    names = []
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    names = [n for n in names if not n.startswith("optimizer/")]
    n_student = len(d.student.weights) + len(d.distillation_losses[1].adapter.weights)
    assert len(names) == n_student, names
    assert not any("t_" in n.split("/")[-2] for n in names if "/" in n)
    fresh = _distiller()
    fresh.load_weights(path)
    for a, b in zip(fresh.student.weights, d.student.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_loss_falls_on_a_learnable_problem():
    d = _distiller()
    h = d.fit(tiny_dataset(n=128), epochs=5, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]


class _ScaledLogitMSE(tfkd.losses.DistillationLoss):
    """A user's loss with natural attribute names: a plain temperature and a
    scheduled scale of its own."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.temperature = 3.0
        self.scale = tfkd.losses.schedule.Scheduled(scale, "scale")

    def compute(self, teacher, student, step=None):
        return self.scale(step) * tf.reduce_mean(tf.square((teacher - student) / self.temperature))


def test_a_custom_loss_may_use_any_attribute_and_its_schedules_are_logged():
    scale = keras.optimizers.schedules.PolynomialDecay(2.0, 3, 1.0)
    loss = _ScaledLogitMSE(scale, name="scaled_mse")
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[loss])
    d.compile(keras.optimizers.SGD(0.01), loss=sparse_ce())
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(float(logs["scaled_mse_scale"]))
    )
    h = d.fit(tiny_dataset(n=64, batch=16), epochs=1, verbose=0, callbacks=[record]).history
    assert np.isfinite(h["scaled_mse"][0])
    assert seen == pytest.approx([2.0, 2.0 - 1 / 3, 2.0 - 2 / 3, 1.0], rel=1e-6)  # the schedule at steps 0..3
    assert "scaled_mse_temperature" not in h
