"""Breadth: every method trains, schedules, balancing and multi-teacher."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from recipes.lib.config import Config
from recipes.lib.methods import build_losses
from tests.conftest import sparse_ce, tiny_dataset, tiny_student, tiny_teacher

METHOD_LOSSES = [
    lambda: tfkd.losses.SoftLabels(4.0),
    lambda: tfkd.losses.FeatureHint("t_block1", "s_block2"),
    lambda: tfkd.losses.AttentionTransfer("t_block1", "s_block2", weight=1000.0),
    lambda: tfkd.losses.RelationalKD("t_embed", "s_embed"),
    lambda: tfkd.losses.SimilarityPreserving("t_block2", "s_block2", weight=3000.0),
    lambda: tfkd.losses.ProbabilisticKT("t_embed", "s_embed", weight=30000.0),
]


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
@pytest.mark.parametrize("make_loss", METHOD_LOSSES)
def test_each_method_trains_without_nonfinite_losses(make_loss, policy):
    student = tiny_student(dtype=policy)
    d = tfkd.Distiller(tiny_teacher(), student, losses=[make_loss()], student_loss_weight=0.5)
    d.compile(keras.optimizers.SGD(0.01), loss=sparse_ce())
    h = d.fit(tiny_dataset(n=64), epochs=2, verbose=0).history
    assert np.all(np.isfinite(h["loss"])) and h["nonfinite_steps"][-1] == 0


def test_schedule_changes_reported_weight_and_temperature():
    weight = keras.optimizers.schedules.PolynomialDecay(4.0, decay_steps=4, end_learning_rate=1.0)
    loss = tfkd.losses.FeatureHint("t_block2", "s_block1", weight=weight, name="hint")
    kd = tfkd.losses.SoftLabels(temperature=lambda step: 1.0 + tf.cast(step, "float32"))
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[loss, kd])
    d.compile("sgd", loss=sparse_ce())
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(
            (float(logs["hint_weight"]), float(logs["soft_labels_temperature"]))
        )
    )
    d.fit(tiny_dataset(n=64), epochs=1, verbose=0, callbacks=[cb])
    assert [w for w, _ in seen] == pytest.approx([4.0, 3.25, 2.5, 1.75])
    assert [t for _, t in seen] == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_balance_initial_makes_each_term_start_at_its_weight():
    losses = [
        tfkd.losses.SoftLabels(2.0, weight=0.5),
        tfkd.losses.SimilarityPreserving("t_block2", "s_block2", weight=2.0),
    ]
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=losses, student_loss_weight=0.0, balance="initial")
    d.compile(keras.optimizers.SGD(0.0), loss=sparse_ce())
    h = d.fit(tiny_dataset(n=16, batch=16), epochs=1, verbose=0).history
    # The raw terms are reported; the total uses them divided by their first value.
    assert h["loss"][0] == pytest.approx(0.5 + 2.0, rel=1e-5)
    assert h["soft_labels"][0] != pytest.approx(1.0)
    np.testing.assert_allclose(d._balance_scales.numpy(), [h["soft_labels"][0], h["sp_s_block2"][0]], rtol=1e-5)


def _multi(teachers, weights):
    student = tiny_student()
    student.set_weights(_multi.init)
    d = tfkd.Distiller(
        teachers, student, losses=[tfkd.losses.SoftLabels(2.0)], student_loss_weight=0.0, teacher_weights=weights
    )
    d.compile(keras.optimizers.SGD(0.1), loss=sparse_ce())
    return d.fit(tiny_dataset(n=32), epochs=1, verbose=0, shuffle=False).history["soft_labels"][0]


def test_multi_teacher_identical_equals_one_and_weights_select():
    t1, t2 = tiny_teacher(name="t1"), tiny_teacher(name="t2")
    _multi.init = tiny_student().get_weights()
    one = _multi(t1, None)
    t1_copy = tiny_teacher(name="t1_copy")
    t1_copy.set_weights(t1.get_weights())
    assert _multi([t1, t1_copy], None) == pytest.approx(one, rel=1e-5)
    assert _multi([t1, t2], [1.0, 0.0]) == pytest.approx(one, rel=1e-5)
    assert _multi([t1, t2], None) != pytest.approx(one, rel=1e-3)


def test_multi_teacher_feature_losses_name_their_teacher():
    t1, t2 = tiny_teacher(name="t1"), tiny_teacher(name="t2")
    d = tfkd.Distiller([t1, t2], tiny_student(), losses=[tfkd.losses.FeatureHint("t2/t_block2", "s_block2")])
    d.compile("sgd", loss=sparse_ce())
    d.fit(tiny_dataset(n=16), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="must start with the teacher's model name.*\\['t1', 't2'\\]"):
        tfkd.Distiller([t1, t2], tiny_student(), losses=[tfkd.losses.FeatureHint("t_block2", "s_block2")])


@pytest.mark.parametrize("method", ["kd", "fitnet", "at", "rkd", "sp", "pkt", "kd+at"])
def test_recipe_methods_build_losses_for_reference_models(method):
    from tfkd import models

    teacher, student = models.get("cnn_teacher"), models.get("cnn_small")
    losses = build_losses(Config(method=method), [teacher.name], "cnn_small")
    assert len(losses) >= 1
    tfkd.Distiller(teacher, student, losses=losses)  # every default layer exists


def test_at_on_mlp_student_is_a_clear_error():
    with pytest.raises(ValueError, match="needs convolutional feature maps"):
        build_losses(Config(method="at"), ["cnn_teacher"], "mlp_small")
