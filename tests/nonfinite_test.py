"""Non-finite values: the loss scale goes down and back up, single bad
batches are skipped, and TerminateOnNaN stops a run whose steps all fail."""

import keras
import numpy as np

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_student, tiny_teacher
from tests.mixed_precision_test import bomb_student


def test_loss_scale_goes_down_on_overflow_and_back_up():
    student = bomb_student()
    d = tfkd.Distiller(
        tiny_teacher(),
        student,
        losses=[tfkd.losses.SoftLabels(2.0, 0.5), tfkd.losses.FeatureHint("t_block2", "s_block2")],
    )
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.05), dynamic_growth_steps=2)
    d.compile(optimizer, loss=sparse_ce())
    assert d.optimizer is optimizer
    x, y = tiny_data(64)
    d.fit(x[:16], y[:16], batch_size=16, epochs=1, verbose=0)
    start = float(optimizer.dynamic_scale.numpy())
    kernel = student.get_layer("s_block1").kernel
    before = kernel.numpy().copy()

    student.get_layer("bomb").factor.assign(np.inf)  # 3 overflowing steps
    h = d.fit(x[:48], y[:48], batch_size=16, epochs=1, shuffle=False, verbose=0).history
    assert float(optimizer.dynamic_scale.numpy()) == start / 8
    np.testing.assert_array_equal(kernel.numpy(), before)  # no step applied
    assert h["loss_scale"][-1] == start / 8

    student.get_layer("bomb").factor.assign(1.0)  # 4 good steps: 2 doublings
    h = d.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history
    assert float(optimizer.dynamic_scale.numpy()) == start / 2
    assert not np.array_equal(kernel.numpy(), before)
    assert np.isfinite(h["loss"]).all()
    assert all(np.all(np.isfinite(w.numpy())) for w in student.weights)


class _Batches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def _distiller():
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels(2.0)])
    d.compile(keras.optimizers.SGD(0.05), loss=sparse_ce())
    return d


def test_terminate_on_nan_lets_a_skipped_batch_pass():
    x, y = tiny_data(64)
    x[0] = np.nan  # the first batch of every epoch
    d, batches = _distiller(), _Batches()
    h = d.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN(), batches]
    ).history
    assert batches.count == 8 and len(h["loss"]) == 2  # nothing stopped
    assert h["nonfinite_steps"] == [1.0, 1.0] and np.isfinite(h["loss"]).all()
    assert all(np.all(np.isfinite(w.numpy())) for w in d.student.weights)


def test_terminate_on_nan_stops_when_every_step_fails():
    x, y = tiny_data(64)
    x[::16] = np.inf  # one bad row in every batch
    d, batches = _distiller(), _Batches()
    before = [w.numpy().copy() for w in d.student.weights]
    d.fit(
        x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN(), batches]
    )
    assert batches.count == tfkd.distiller.STOP_AFTER_SKIPS  # stopped after 5 failed steps in a row
    for a, b in zip(before, d.student.weights):
        np.testing.assert_array_equal(a, b.numpy())
