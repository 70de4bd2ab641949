"""Shared tiny models and a fixture that resets Keras between tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture(autouse=True)
def _fresh_keras():
    keras.mixed_precision.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)  # no gc.collect(): ~1 s a test with TF loaded
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_dtype_policy("float32")


class CallCounter(keras.layers.Layer):
    """Identity layer that counts how often its graph runs (in a variable)."""

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int64", name="count")

    def call(self, x):
        self.count.assign_add(1)
        return x


def tiny_teacher(input_shape=(8, 8, 1), classes=10, name="teacher", counter=False, softmax=False):
    i = keras.Input(input_shape, name="image")
    x = i
    if counter:
        x = CallCounter(name="t_counter")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="t_block1")(x)
    x = keras.layers.BatchNormalization(name="t_bn")(x)
    x = keras.layers.Conv2D(24, 3, strides=2, padding="same", activation="relu", name="t_block2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="t_pool")(x)
    x = keras.layers.Dense(32, activation="relu", name="t_embed")(x)
    o = keras.layers.Dense(classes, activation="softmax" if softmax else None, dtype="float32", name="t_logits")(x)
    return keras.Model(i, o, name=name)


def tiny_student(input_shape=(8, 8, 1), classes=10, name="student", counter=False, softmax=False, dtype=None):
    kw = {} if dtype is None else {"dtype": dtype}
    i = keras.Input(input_shape, name="image")
    x = i
    if counter:
        x = CallCounter(name="s_counter")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="s_block1", **kw)(x)
    x = keras.layers.BatchNormalization(name="s_bn", **kw)(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="s_block2", **kw)(x)
    x = keras.layers.GlobalAveragePooling2D(name="s_pool", **kw)(x)
    x = keras.layers.Dense(12, activation="relu", name="s_embed", **kw)(x)
    o = keras.layers.Dense(classes, activation="softmax" if softmax else None, dtype="float32", name="s_logits")(x)
    return keras.Model(i, o, name=name)


def tiny_data(n=64, input_shape=(8, 8, 1), classes=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    # Class-dependent means so the problem is learnable.
    x = rng.normal(size=(n,) + input_shape).astype("float32") * 0.5
    x += (y[:, None, None, None] / classes).astype("float32")
    return x, y


def tiny_dataset(n=64, batch=16, **kw):
    x, y = tiny_data(n, **kw)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
