"""The Distiller as a training harness: users' own losses, saving refused
with the fix, warnings about untrained teachers and random layers, the
validation loss without hard labels, and recipe reruns."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce, tiny_data, tiny_dataset, tiny_student, tiny_teacher


class LogitMSE(tfkd.losses.DistillationLoss):
    """A user's own logits-level loss, written as the README shows."""

    default_name = "logit_mse"

    def compute(self, teacher, student, step=None):
        return tf.reduce_mean(tf.square(teacher - student))


def test_a_users_own_logits_loss_trains_with_one_and_two_teachers():
    x, y = tiny_data(32, seed=3)
    for teachers in ([tiny_teacher()], [tiny_teacher(name="a"), tiny_teacher(name="b")]):
        d = tfkd.Distiller(
            teachers if len(teachers) > 1 else teachers[0],
            tiny_student(),
            losses=[LogitMSE(weight=0.5)],
            student_loss_weight=0.5,
            teacher_weights=None,
        )
        d.compile(keras.optimizers.SGD(0.01), loss=sparse_ce())
        logs = d.fit(x, y, batch_size=32, epochs=1, verbose=0).history
        assert np.isfinite(logs["logit_mse"][0]) and logs["logit_mse"][0] > 0


def test_the_default_fan_out_is_the_weighted_mean_over_teachers():
    rng = np.random.default_rng(5)
    t1, t2, s = (rng.normal(size=(6, 4)).astype("float32") for _ in range(3))
    got = float(LogitMSE().over_teachers([t1, t2], s, None, [1.0, 3.0]))
    want = 0.25 * np.mean((t1.astype(np.float64) - s) ** 2) + 0.75 * np.mean((t2.astype(np.float64) - s) ** 2)
    assert got == pytest.approx(want, rel=1e-6)


def test_saving_a_distiller_is_refused_with_the_fix(tmp_path):
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()])
    d.compile("adam", loss=sparse_ce())
    with pytest.raises(ValueError, match="export_student.*save_weights"):
        d.save(str(tmp_path / "d.keras"))
    assert not list(tmp_path.iterdir())


def test_a_whole_model_checkpoint_is_refused_before_any_step(tmp_path):
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()])
    d.compile("adam", loss=sparse_ce())
    with pytest.raises(ValueError, match="save_weights_only=True"):
        d.fit(
            tiny_dataset(), epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(str(tmp_path / "d.keras"))]
        )
    assert int(d.optimizer.iterations.numpy()) == 0


def test_from_config_warns_that_teachers_come_back_untrained():
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()])
    with pytest.warns(UserWarning, match="untrained"):
        tfkd.Distiller.from_config(d.get_config())


def test_pure_distillation_still_reports_the_validation_loss():
    x, y = tiny_data(32)
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()], student_loss_weight=0)
    d.compile("adam", loss=sparse_ce())
    h = d.fit(x, y, batch_size=16, validation_data=(x, y), epochs=1, verbose=0).history
    want = float(sparse_ce()(y, d.student.predict(x, verbose=0)))
    assert h["val_loss"][0] == pytest.approx(want, rel=1e-4)


def test_random_augmentation_layers_in_a_student_are_warned_about():
    i = keras.Input((8, 8, 1))
    h = keras.layers.RandomFlip("horizontal", name="flip")(i)
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(h))
    student = keras.Model(i, keras.layers.Dense(10)(h))
    with pytest.warns(UserWarning, match=r"random augmentation layers \['flip'\]"):
        tfkd.Distiller(tiny_teacher(), student, losses=[tfkd.losses.SoftLabels()])


def test_rerunning_the_distill_recipe_with_an_export_reports_it(tmp_path):
    from recipes.lib import distill
    from recipes.lib.config import Config

    export = str(tmp_path / "export")
    config = dict(workdir=str(tmp_path / "w"), method="scratch", student="mlp_small", smoke=True, export_dir=export)
    first = distill.run(Config(**config))
    again = distill.run(Config(**config))
    assert first["export_path"] == again["export_path"]
    with pytest.raises(FileExistsError, match="never overwrites.*overwrite"):
        distill.run(Config(**{**config, "seed": 1}))  # another student into the same folder
