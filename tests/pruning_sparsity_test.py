"""Sparsity training before the cut (network slimming): the penalty against
a float64 NumPy reference (values and gradients), which weights carry it,
that the copy is the same function, survives save/load and trains, and that
the cut student carries no penalty."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce
from tests.pruning_test import EXACT, backbone_under_a_head, residual_cnn

# float32 sums of a few hundred terms of size ~1 against float64.
SUM_TOL = 1e-5


def _group_norms(w):
    """float64 reference: the L2 norm of each output channel (last axis)."""
    w = np.asarray(w, np.float64)
    rows = w.reshape(-1, w.shape[-1])
    return np.sqrt((rows**2).sum(0) + 1e-12)


@pytest.mark.parametrize("shape", [(7,), (3, 3, 4, 6), (10, 5)])
def test_channel_sparsity_matches_numpy_values_and_gradients(shape):
    rng = np.random.default_rng(len(shape))
    w = rng.normal(size=shape)
    penalty = tfkd.pruning.ChannelSparsity(3e-3)
    variable = tf.Variable(w.astype("float32"))
    with tf.GradientTape() as tape:
        value = penalty(variable)
    grad = tape.gradient(value, variable).numpy()
    if len(shape) == 1:
        # L1 (network slimming): strength · Σ|γ|, gradient strength · sign(γ).
        want, want_grad = 3e-3 * np.abs(w).sum(), 3e-3 * np.sign(w)
    else:
        # Group lasso (Wen et al. 2016): strength · Σ_c ‖w_c‖, gradient strength · w_c / ‖w_c‖.
        norms = _group_norms(w)
        want, want_grad = 3e-3 * norms.sum(), 3e-3 * w / norms
    np.testing.assert_allclose(float(value), want, rtol=SUM_TOL)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-9)
    again = keras.regularizers.deserialize(keras.regularizers.serialize(penalty))
    assert isinstance(again, tfkd.pruning.ChannelSparsity) and again.strength == 3e-3


def test_sparsify_penalizes_the_scales_of_prunable_channels_and_keeps_the_function(tmp_path):
    model = residual_cnn()
    sparse = tfkd.pruning.sparsify(model, strength=1e-2)
    x = np.random.default_rng(0).normal(size=(8, 12, 12, 3)).astype("float32")
    np.testing.assert_array_equal(sparse(x).numpy(), model(x).numpy())
    # Every BatchNorm of the model carries only prunable channels here.
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    want = 1e-2 * sum(np.abs(layer.get_weights()[0].astype(np.float64)).sum() for layer in bns)
    np.testing.assert_allclose(float(sum(sparse.losses)), want, rtol=SUM_TOL)
    assert not model.losses  # the original is untouched
    sparse.save(tmp_path / "sparse.keras")
    loaded = keras.saving.load_model(tmp_path / "sparse.keras")
    np.testing.assert_allclose(float(sum(loaded.losses)), want, rtol=SUM_TOL)
    # The cut student (width or depth) trains without the penalty.
    student = tfkd.prune_width(loaded, keep=0.5, importance="bn_scale")
    assert not student.losses
    assert not tfkd.prune_depth(loaded, drop=1, calibration_data=x).losses


def test_sparsify_group_lasso_on_filters_leaves_excluded_and_frozen_layers_alone():
    model = residual_cnn()
    sparse = tfkd.pruning.sparsify(model, strength=1e-3, importance="magnitude", exclude=["fc"])
    penalized = sorted(layer.name for layer in sparse.layers if getattr(layer, "kernel_regularizer", None))
    # `out` makes the model's output (kept whole), `fc` is excluded.
    assert penalized == ["b1", "b2", "side", "stem"]
    want = 1e-3 * sum(_group_norms(model.get_layer(n).get_weights()[0]).sum() for n in penalized)
    np.testing.assert_allclose(float(sum(sparse.losses)), want, rtol=SUM_TOL)


def test_sparsify_reaches_inside_a_nested_model():
    model = backbone_under_a_head()
    sparse = tfkd.pruning.sparsify(model, strength=1e-3, importance="magnitude")
    inner = sparse.get_layer("backbone")
    assert isinstance(inner, keras.Model)
    assert isinstance(inner.get_layer("c2").kernel_regularizer, tfkd.pruning.ChannelSparsity)
    # The nested Sequential's conv shares its name with a backbone conv: both are found.
    assert isinstance(sparse.get_layer("neck").get_layer("c1").kernel_regularizer, tfkd.pruning.ChannelSparsity)
    assert isinstance(inner.get_layer("c1").kernel_regularizer, tfkd.pruning.ChannelSparsity)
    x = np.random.default_rng(1).normal(size=(4, *model.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_allclose(sparse(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)


def test_distilling_the_sparse_copy_drives_its_scales_down():
    """The Distiller adds the copy's penalty to its loss: the same training
    with a strong penalty leaves smaller BatchNorm scales than without."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 12, 12, 3)).astype("float32")
    y = rng.integers(0, 4, 64)
    teacher = residual_cnn()

    def scales_after(student):
        keras.utils.set_random_seed(0)
        distiller = tfkd.Distiller(teacher, student, losses=[tfkd.losses.SoftLabels()])
        distiller.compile(keras.optimizers.SGD(0.05), loss=sparse_ce())
        distiller.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        return np.abs(student.get_layer("b1_bn").get_weights()[0]).sum()

    plain = scales_after(tfkd.prune_width(teacher, 1.0, importance="magnitude"))
    sparse = scales_after(tfkd.pruning.sparsify(teacher, strength=0.05))
    # 12 steps of lr 0.05 x strength 0.05 take up to 0.03 off each of 6 scales.
    assert sparse < plain - 0.1


def test_copies_of_a_frozen_teacher_train():
    """A teacher given to a Distiller is frozen; students cut from it (and
    its sparse copy) are trainable, layers and all."""
    teacher = residual_cnn()
    tfkd.Distiller(teacher, residual_cnn(), losses=[tfkd.losses.SoftLabels()])
    assert not teacher.trainable
    x = np.random.default_rng(3).normal(size=(4, 12, 12, 3)).astype("float32")
    for copy in (
        tfkd.pruning.sparsify(teacher, 1e-4),
        tfkd.prune_width(teacher, 0.5, importance="magnitude"),
        tfkd.prune_depth(teacher, drop=1, calibration_data=x),
    ):
        assert copy.trainable and all(layer.trainable for layer in copy.layers)
        assert len(copy.trainable_weights) > 0
