"""Keras's own checkpoint callbacks with the Distiller: they hold the
student, adapters and optimizer, never a teacher, whatever its size."""

import os

import h5py
import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_student
from tfkd import models
from tfkd.callbacks import AtomicBackupAndRestore


def _distiller(teacher_width=8):
    keras.utils.set_random_seed(0)
    teacher = models.get("cnn_teacher", input_shape=(8, 8, 1), width=teacher_width)
    d = tfkd.Distiller(
        teacher, tiny_student(), losses=[tfkd.losses.SoftLabels(2.0), tfkd.losses.FeatureHint("t_block2", "s_block2")]
    )
    d.compile(keras.optimizers.Adam(1e-3), loss=sparse_ce())
    return d


def _keys(path):
    names = []
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def test_model_checkpoint_weights_only_holds_no_teacher_and_reloads(tmp_path):
    d = _distiller()
    x, y = tiny_data(32)
    path = str(tmp_path / "ckpt.weights.h5")
    d.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=[keras.callbacks.ModelCheckpoint(path, save_weights_only=True)],
    )
    keys = _keys(path)
    model_keys = [k for k in keys if not k.startswith("optimizer/")]
    assert len(model_keys) == len(d.student.weights) + len(d.adapters[0].weights)
    assert any(k.startswith("optimizer/") for k in keys)  # Adam's slots travel with it
    fresh = _distiller()
    fresh.load_weights(path)
    for a, b in zip(fresh.student.weights + fresh.adapters[0].weights, d.student.weights + d.adapters[0].weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.parametrize("callback", [keras.callbacks.BackupAndRestore, AtomicBackupAndRestore])
def test_backup_and_restore_resumes_the_distiller(tmp_path, callback):
    x, y = tiny_data(32)
    d = _distiller()
    with pytest.raises(KeyboardInterrupt):
        d.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callback(str(tmp_path)), _StopAfterFirstEpoch()])
    saved = [w.numpy().copy() for w in d.student.trainable_weights]
    resumed = _distiller()
    history = resumed.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callback(str(tmp_path))])
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    assert int(resumed.optimizer.iterations.numpy()) == 6  # 2 restored + 4 new steps
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(saved, resumed.student.trainable_weights))


def test_checkpoint_size_does_not_depend_on_the_teacher(tmp_path):
    sizes = []
    for width in (4, 64):  # teachers of ~5k and ~700k parameters
        d = _distiller(width)
        x, y = tiny_data(16)
        folder = str(tmp_path / f"w{width}")
        d.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[AtomicBackupAndRestore(folder)])
        files = [f for f in os.listdir(folder) if f.endswith(".weights.h5")]
        sizes.append(os.path.getsize(os.path.join(folder, files[0])))
        assert not any("t_block" in k for k in _keys(os.path.join(folder, files[0])))
    # The adapter maps to the teacher's channels, so it grows a little with the teacher.
    assert abs(sizes[1] - sizes[0]) < 0.2 * sizes[0] + 64 * 1024, sizes


def test_load_weights_into_a_fresh_compiled_distiller_restores_the_optimizer(tmp_path):
    """save_weights, then load_weights into a new compiled Distiller: Adam's
    moments come back too, so training goes on exactly as if never stopped
    (the same process, kernels and versions: bit-exact)."""
    x, y = tiny_data(32)
    whole = _distiller()
    whole.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    first = _distiller()
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "run.weights.h5")
    first.save_weights(path)
    resumed = _distiller()
    resumed.load_weights(path)
    assert len(resumed.optimizer.variables) == len(first.optimizer.variables) > 2
    for a, b in zip(resumed.optimizer.variables, first.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(resumed.student.weights, whole.student.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
