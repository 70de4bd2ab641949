import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import tiny_data, tiny_dataset, tiny_student, tiny_teacher


def _trained_distiller():
    d = tfkd.Distiller(
        tiny_teacher(),
        tiny_student(softmax=True),
        losses=[tfkd.losses.SoftLabels(), tfkd.losses.FeatureHint("t_block2", "s_block1")],
    )
    d.compile("adam", loss="sparse_categorical_crossentropy")
    d.fit(tiny_dataset(), epochs=1, verbose=0)
    return d


def _variable_names(path):
    return [name for name, _ in tf.train.list_variables(os.path.join(path, "variables", "variables"))]


def test_round_trip_parity_signature_and_contents(tmp_path):
    d = _trained_distiller()
    path = tfkd.export_student(d, str(tmp_path / "student"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    assert served.structured_input_signature[1]["images"].dtype == tf.float32
    x, _ = tiny_data(16)
    out = served(images=tf.constant(x))
    assert out["logits"].dtype == tf.float32 and out["probabilities"].dtype == tf.float32
    # float32 both ways, other kernels (the SavedModel's graph vs Keras's): probabilities in [0, 1] agree to
    # rounding, far below 1e-5 (float32 steps are 6e-8 there).
    np.testing.assert_allclose(out["probabilities"].numpy(), d.student.predict(x, verbose=0), atol=1e-5)
    # Only the student's variables: none of the teacher, none of the adapter.
    n_vars = sum(1 for n in _variable_names(path) if "OPTIMIZER" not in n and n.startswith("variables/"))
    assert n_vars == len(d.student.variables)
    adapter_shape = tuple(d.distillation_losses[1].adapter.kernel.shape)
    shapes = [tuple(s) for n, s in tf.train.list_variables(os.path.join(path, "variables", "variables"))]
    assert adapter_shape not in shapes
    assert tuple(d.get_teachers()[0].get_layer("t_block2").kernel.shape) not in shapes


def test_refuses_to_overwrite_and_replaces_with_overwrite(tmp_path):
    d = _trained_distiller()
    path = tfkd.export_student(d.student, str(tmp_path / "s"))
    marker = os.path.join(path, "keep.txt")
    open(marker, "w").close()
    with pytest.raises(FileExistsError, match="never overwrites.*overwrite=True"):
        tfkd.export_student(d.student, path)
    assert os.path.exists(marker)  # nothing was lost
    tfkd.export_student(d.student, path, overwrite=True)
    assert not os.path.exists(marker) and os.path.exists(os.path.join(path, "saved_model.pb"))
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no temp folders left


def test_failed_parity_check_keeps_previous_export(tmp_path, monkeypatch):
    d = _trained_distiller()
    path = tfkd.export_student(d.student, str(tmp_path / "s"))
    before = sorted(os.listdir(path))
    from tfkd.export import saved_model

    monkeypatch.setattr(
        saved_model, "check_parity", lambda *a: (_ for _ in ()).throw(RuntimeError("Export check failed: forced"))
    )
    with pytest.raises(RuntimeError, match="forced"):
        tfkd.export_student(d.student, path, overwrite=True)
    assert sorted(os.listdir(path)) == before
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_mixed_student_exports_in_float32(tmp_path):
    student = tiny_student(dtype="mixed_float16")
    path = tfkd.export_student(student, str(tmp_path / "m"))
    x, _ = tiny_data(4)
    out = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(x))
    # The export computes in float32, the original in float16: six layers each rounding to 2**-11 relative,
    # on logits of magnitude below 1 here; 2e-2 is about 40 float16 steps, and a wrong weight gives ~1e-1.
    np.testing.assert_allclose(out["logits"].numpy(), student(x).numpy(), atol=2e-2)
    assert student.get_layer("s_block1").compute_dtype == "float16"  # the original is untouched


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        tfkd.export_student(keras.Sequential([keras.layers.Dense(2)]), str(tmp_path / "x"))
