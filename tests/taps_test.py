import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import sparse_ce, tiny_student
from tfkd.taps import LOGITS, OUTPUT, build_tap_model


def _mobilenet_teacher():
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35)
    i = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(i))
    return keras.Model(i, keras.layers.Dense(10, name="head")(x), name="teacher"), backbone.name


def test_nested_tap_inside_keras_applications_backbone():
    teacher, name = _mobilenet_teacher()
    path = f"{name}/block_6_expand_relu"
    taps = build_tap_model(teacher, [path], role="teacher")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    out = taps(x)
    inner = keras.Model(teacher.layers[1].inputs, teacher.layers[1].get_layer("block_6_expand_relu").output)
    # The same layers on the same batch, replayed in another graph: float32 rounding only (MobileNet's
    # ~50 layers on activations of order 1: ~1e-6), and a wrong tap differs by order 1.
    np.testing.assert_allclose(out[path].numpy(), inner(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(out[OUTPUT].numpy(), teacher(x).numpy(), atol=1e-5)
    assert (path, (None, 4, 4, 96)) in tfkd.list_taps(teacher, print_fn=None)


def test_distill_through_nested_tap():
    teacher, name = _mobilenet_teacher()
    i = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=8, padding="same", name="s_block")(i)
    x = keras.layers.GlobalAveragePooling2D()(x)
    student = keras.Model(i, keras.layers.Dense(10)(x))
    d = tfkd.Distiller(
        teacher,
        student,
        losses=[tfkd.losses.SoftLabels(), tfkd.losses.FeatureHint(f"{name}/block_6_expand_relu", "s_block")],
    )
    d.compile("adam", loss=sparse_ce())
    h = d.fit(np.random.rand(8, 32, 32, 3).astype("float32"), np.arange(8), verbose=0).history
    assert np.isfinite(h["loss"][0])


def _shared_layer_model():
    i = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    a = shared(i)
    b = shared(keras.layers.Dense(4, name="mid")(a))
    return keras.Model(i, keras.layers.Dense(3, name="out")(b))


def test_layer_called_twice_is_ambiguous_and_indexable():
    model = _shared_layer_model()
    with pytest.raises(ValueError, match=r"ambiguous.*Choices: \['shared:0 \(None, 4\)', 'shared:1 \(None, 4\)'\]"):
        build_tap_model(model, ["shared"])
    taps = build_tap_model(model, ["shared:0", "shared:1"])
    x = np.ones((2, 4), "float32")
    out = taps(x)
    first = keras.Model(model.inputs, model.get_layer("shared")._inbound_nodes[0].outputs[0])
    np.testing.assert_allclose(out["shared:0"].numpy(), first(x).numpy(), atol=1e-6)
    assert not np.allclose(out["shared:0"].numpy(), out["shared:1"].numpy())
    with pytest.raises(ValueError, match="has only 2 output"):
        build_tap_model(model, ["shared:5"])
    assert [p for p, _ in tfkd.list_taps(model, print_fn=None)][:3] == ["shared:0", "shared:1", "mid"]


def test_path_into_a_plain_layer_is_an_error():
    with pytest.raises(ValueError, match="not a nested model"):
        build_tap_model(tiny_student(), ["s_block1/kernel"])


def test_sequential_models_can_be_tapped():
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, name="h"), keras.layers.Dense(2, activation="softmax", name="o")]
    )
    out = build_tap_model(model, ["h"])(np.ones((1, 5), "float32"))
    assert out["h"].shape == (1, 3)
    np.testing.assert_allclose(keras.ops.softmax(out[LOGITS]).numpy(), out[OUTPUT].numpy(), atol=1e-6)
