import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tests.conftest import sparse_ce, tiny_dataset, tiny_student, tiny_teacher


class GradientBomb(keras.layers.Layer):
    """Identity forward; backward multiplies the gradient by `factor`."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(), initializer="ones", trainable=False, name="factor")

    def call(self, x):
        factor = tf.cast(self.factor, x.dtype)

        @tf.custom_gradient
        def identity(v):
            return tf.identity(v), lambda g: g * factor

        return identity(x)


def _distill(student, teacher=None, lr=0.05):
    d = tfkd.Distiller(
        teacher or tiny_teacher(),
        student,
        losses=[tfkd.losses.SoftLabels(2.0, 0.5), tfkd.losses.FeatureHint("t_block2", "s_block2")],
        student_loss_weight=0.5,
    )
    d.compile(optimizer=keras.optimizers.SGD(lr), loss=sparse_ce())
    return d


def test_global_mixed_policy_gives_loss_scale_optimizer():
    teacher = tiny_teacher()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    student = tiny_student()
    keras.mixed_precision.set_dtype_policy("float32")  # the Distiller's policy must not matter
    d = _distill(student, teacher)
    assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
    h = d.fit(tiny_dataset(n=128), epochs=4, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]
    assert "loss_scale" in h
    assert all(w.dtype == "float32" for w in student.weights)  # master weights


def test_per_layer_float16_student_gives_loss_scale_optimizer():
    d = _distill(tiny_student(dtype="mixed_float16"))
    assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
    plain = _distill(tiny_student())
    assert not isinstance(plain.optimizer, keras.optimizers.LossScaleOptimizer)


def bomb_student():
    """A mixed_float16 student whose gradients pass through a GradientBomb."""
    i = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", dtype="mixed_float16", name="s_block1")(i)
    x = GradientBomb(dtype="mixed_float16", name="bomb")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", dtype="mixed_float16", name="s_block2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(10, dtype="float32")(x))


def test_nonfinite_gradient_skips_step_and_lowers_scale():
    student = bomb_student()
    d = _distill(student)
    ds = tiny_dataset(n=16)
    d.fit(ds, epochs=1, verbose=0)
    scale = float(d.optimizer.dynamic_scale.numpy())
    first_conv = student.get_layer("s_block1").kernel
    before = first_conv.numpy().copy()
    student.get_layer("bomb").factor.assign(np.inf)
    d.fit(ds, epochs=1, verbose=0)
    np.testing.assert_array_equal(first_conv.numpy(), before)
    assert float(d.optimizer.dynamic_scale.numpy()) == scale / 2
    student.get_layer("bomb").factor.assign(1.0)
    d.fit(ds, epochs=1, verbose=0)
    assert not np.array_equal(first_conv.numpy(), before)
    assert all(np.all(np.isfinite(w.numpy())) for w in student.weights)


def test_float32_and_mixed_float16_runs_end_close():
    teacher = tiny_teacher()
    ref = tiny_student()
    init = ref.get_weights()
    results = {}
    for policy in ("float32", "mixed_float16"):
        student = tiny_student(dtype=policy)
        student.set_weights(init)
        d = _distill(student, teacher)
        h = d.fit(tiny_dataset(n=128), epochs=3, verbose=0).history
        results[policy] = (h["loss"][-1], student.get_weights())
    np.testing.assert_allclose(results["float32"][0], results["mixed_float16"][0], rtol=0.02)
    a = np.concatenate([w.ravel() for w in results["float32"][1]])
    b = np.concatenate([w.ravel() for w in results["mixed_float16"][1]])
    # float16 rounds each op to ~1e-3; over 24 steps the runs stay within 3%.
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.03


def test_mixed_bfloat16_trains_without_loss_scaling():
    d = _distill(tiny_student(dtype="mixed_bfloat16"))
    assert not isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer)
    h = d.fit(tiny_dataset(n=128), epochs=3, verbose=0).history
    assert np.isfinite(h["loss"]).all() and h["loss"][-1] < h["loss"][0]


def test_feature_losses_do_not_overflow_in_float16():
    # Features around 300: their squares (9e4) overflow float16 (max 65504).
    t = tf.cast(tf.fill((4, 4, 4, 8), 300.0), tf.float16)
    s = tf.cast(tf.fill((4, 4, 4, 8), -300.0), tf.float16)
    assert float(tfkd.losses.FeatureHint("t", "s")(t, s)) == pytest.approx(360000.0)


def test_float16_output_layer_warns_and_is_cast():
    i = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", name="s_block2", dtype="mixed_float16")(i)
    x = keras.layers.GlobalAveragePooling2D(dtype="mixed_float16")(x)
    student = keras.Model(i, keras.layers.Dense(10, dtype="mixed_float16")(x))
    with pytest.warns(UserWarning, match='dtype="float32"'):
        d = _distill(student)
    h = d.fit(tiny_dataset(), epochs=1, verbose=0).history
    assert np.isfinite(h["loss"][0])
