"""Bad input to the core API: a clear ValueError before any work starts."""

import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import sparse_ce, tiny_student, tiny_teacher


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3, name="inner_conv")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.out = keras.layers.Dense(10)

    def call(self, x):
        return self.out(self.pool(self.conv(x)))


def test_unknown_layer_lists_closest_names():
    with pytest.raises(ValueError, match=r"no layer named 't_blok2'.*Closest layer names: \['t_block2', 't_block1'"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.FeatureHint("t_blok2", "s_block1")])
    with pytest.raises(ValueError, match=r"student.*no layer named 's_blck1'.*s_block1"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.FeatureHint("t_block2", "s_blck1")])


def test_taps_on_subclassed_model_explain_the_fix():
    teacher = Subclassed()
    teacher(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="subclassed keras.Model.*Functional or Sequential"):
        tfkd.Distiller(teacher, tiny_student(), losses=[tfkd.losses.FeatureHint("inner_conv", "s_block1")])


def test_subclassed_teacher_without_taps_is_fine():
    teacher = Subclassed()
    teacher(np.zeros((1, 8, 8, 1), "float32"))
    d = tfkd.Distiller(teacher, tiny_student(), losses=[tfkd.losses.SoftLabels()])
    d.compile("adam", loss=sparse_ce())
    d.fit(np.zeros((4, 8, 8, 1), "float32"), np.zeros(4), verbose=0)


def test_unbuilt_teacher():
    with pytest.raises(ValueError, match="teacher `.*` is not built"):
        tfkd.Distiller(Subclassed(), tiny_student(), losses=[tfkd.losses.SoftLabels()])


def test_incompatible_input_shapes():
    with pytest.raises(ValueError, match=r"incompatible shapes: teacher \[\(8, 8, 1\)\], student \[\(9, 9, 1\)\]"):
        tfkd.Distiller(tiny_teacher(), tiny_student(input_shape=(9, 9, 1)), losses=[tfkd.losses.SoftLabels()])


def test_different_number_of_classes():
    with pytest.raises(ValueError, match="teacher predicts 10 classes and the student 7"):
        tfkd.Distiller(tiny_teacher(), tiny_student(classes=7), losses=[tfkd.losses.SoftLabels()])


def test_nothing_to_optimise():
    with pytest.raises(ValueError, match="Nothing to optimise"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[], student_loss_weight=0.0)
    with pytest.raises(ValueError, match="All weights are zero"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels(weight=0.0)],
                       student_loss_weight=0.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "0.1"])
def test_bad_student_loss_weight(bad):
    with pytest.raises(ValueError, match="student_loss_weight"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()], student_loss_weight=bad)


def test_compile_without_loss():
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()])
    with pytest.raises(ValueError, match="compile\\(\\) got no `loss`.*student_loss_weight=0"):
        d.compile("adam")
    ok = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels()], student_loss_weight=0)
    ok.compile("adam")


def test_feature_hint_shape_mismatch_without_adapter():
    with pytest.raises(ValueError, match="adapter=None.*adapter='auto'"):
        tfkd.Distiller(tiny_teacher(), tiny_student(),
                       losses=[tfkd.losses.FeatureHint("t_block2", "s_block1", adapter=None)])


def test_duplicate_loss_names():
    with pytest.raises(ValueError, match="share a name"):
        tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[tfkd.losses.SoftLabels(), tfkd.losses.SoftLabels()])
