"""LiteRT export: each quantization converts, runs in the LiteRT interpreter,
agrees with the Keras student, and is written atomically."""

import json
import os

import keras
import numpy as np
import pytest

import tfkd
from tfkd.litert_model import LiteRTModel


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 700)
    x = (rng.normal(size=(700, 8, 8, 1)) * 0.3 + y[:, None, None, None] / 4).astype("float32")
    i = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    h = keras.layers.Dense(128, activation="relu")(h)
    model = keras.Model(i, keras.layers.Dense(4)(h), name="small")
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:500], y[:500], epochs=5, verbose=0)
    return model, (x[:500], y[:500]), (x[500:], y[500:])


@pytest.mark.parametrize("quantize", [None, "float16", "dynamic", "int8", "int16x8"])
def test_each_quantization_runs_and_agrees(trained, tmp_path, quantize):
    model, train, val = trained
    path = tfkd.export_student(
        model,
        str(tmp_path / f"m_{quantize}.tflite"),
        format="litert",
        quantize=quantize,
        representative_data=train,
        check_data=val,
    )
    report = json.load(open(str(tmp_path / f"m_{quantize}.json")))
    assert report["quantization"] == (quantize or "float32")
    assert report["size_bytes"] == os.path.getsize(path)
    logits = LiteRTModel(path).predict(val[0])
    want = model.predict(val[0], verbose=0)
    agree = np.mean(np.argmax(logits, 1) == np.argmax(want, 1))
    assert agree == pytest.approx(report["agreement"])
    if quantize is None:
        # float32 LiteRT (XNNPACK) against TensorFlow's kernels: other summation orders, float32 rounding
        # (2**-24 relative) over fan-ins of a few hundred on logits of magnitude ~10: 1e-4 bounds it.
        np.testing.assert_allclose(logits, want, atol=1e-4)
    else:
        assert agree >= 0.95
    assert report["accuracy_drop_points"] <= 0.5 + 1e-9


def test_int8_is_smaller_and_int8_io_quantizes(trained, tmp_path):
    model, train, val = trained
    f32 = tfkd.export_student(model, str(tmp_path / "f.tflite"), format="litert")
    i8 = tfkd.export_student(
        model,
        str(tmp_path / "q.tflite"),
        format="litert",
        quantize="int8",
        representative_data=train,
        check_data=val,
        int8_io=True,
    )
    # ~4x on weights; the flatbuffer overhead of a tiny model keeps it lower.
    assert os.path.getsize(f32) / os.path.getsize(i8) > 2.5
    lite = LiteRTModel(i8)
    assert lite.integer_io
    agree = np.mean(np.argmax(lite.predict(val[0]), 1) == np.argmax(model.predict(val[0], verbose=0), 1))
    assert agree >= 0.95


def test_int16x8_is_int8_sized_and_closer_to_float(trained, tmp_path):
    """int16 activations: logits nearer the float32 model's than int8's, in a
    file about the size of the int8 one."""
    model, train, val = trained
    paths = {
        q: tfkd.export_student(
            model, str(tmp_path / f"{q}.tflite"), format="litert", quantize=q, representative_data=train
        )
        for q in ("int8", "int16x8")
    }
    want = model.predict(val[0], verbose=0)
    error = {q: np.mean(np.abs(LiteRTModel(p).predict(val[0]) - want)) for q, p in paths.items()}
    assert error["int16x8"] < 0.5 * error["int8"]
    assert os.path.getsize(paths["int16x8"]) < 1.15 * os.path.getsize(paths["int8"])


def test_float_logits_keeps_the_last_layer_float_and_fixes_int8_logit_flips(trained, tmp_path):
    """An overconfident student (logits spanning hundreds): int8 logits step
    by about a 256th of that range and flip near-ties; with float_logits the
    last Dense layer's weights stay float32 and agreement rises."""
    from ai_edge_litert.interpreter import Interpreter

    model, train, val = trained
    hot = keras.models.clone_model(model)
    hot.set_weights(model.get_weights()[:-2] + [50 * w for w in model.get_weights()[-2:]])
    # Blends of two images sit near the decision boundaries, where flips happen.
    rng = np.random.default_rng(2)
    images = np.concatenate([train[0], val[0]])
    blend = rng.uniform(0.3, 0.7, (len(images), 1, 1, 1)).astype("float32")
    x = blend * images + (1 - blend) * images[rng.permutation(len(images))]
    want = np.argmax(hot.predict(x, verbose=0), 1)
    agree, kernels = {}, {}
    for float_logits in (False, True):
        path = tfkd.export_student(
            hot,
            str(tmp_path / f"m{int(float_logits)}.tflite"),
            format="litert",
            quantize="int8",
            representative_data=train,
            check_data=val,
            float_logits=float_logits,
        )
        agree[float_logits] = np.mean(np.argmax(LiteRTModel(path).predict(x), 1) == want)
        details = Interpreter(model_path=path).get_tensor_details()
        kernels[float_logits] = {d["dtype"].__name__ for d in details if tuple(d["shape"]) == (4, 128)}
        report = json.load(open(str(tmp_path / f"m{int(float_logits)}.json")))
        assert report["float_logits"] is float_logits
    assert kernels == {False: {"int8"}, True: {"float32"}}
    assert agree[True] > agree[False]
    assert agree[True] >= 0.99


def test_a_failed_check_writes_nothing_and_keeps_the_old_file(trained, tmp_path):
    model, train, val = trained
    path = str(tmp_path / "m.tflite")
    tfkd.export_student(model, path, format="litert")
    before = open(path, "rb").read()
    with pytest.raises(RuntimeError, match=r"drop of .* points"):
        # A limit below any possible drop makes the check fail for sure.
        tfkd.export_student(
            model, path, format="litert", quantize="dynamic", check_data=val, max_accuracy_drop=-1.0, overwrite=True
        )
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.tflite"]


def test_the_evaluate_recipe_reads_a_tflite_file(trained, tmp_path):
    from recipes.lib import evaluate

    model, train, val = trained
    path = tfkd.export_student(model, str(tmp_path / "m.tflite"), format="litert")
    acc = evaluate.accuracy_of(path, val)
    want = np.mean(np.argmax(model.predict(val[0], verbose=0), 1) == val[1])
    assert acc == pytest.approx(want)
