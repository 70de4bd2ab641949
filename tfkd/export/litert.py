"""Export of the student as a LiteRT (`.tflite`) file: float32, float16,
dynamic-range, full-integer int8 or int16x8 (int8 weights, int16
activations), checked before it is moved into place.

Conversion is Keras's own `Model.export(format="litert")` (ExportArchive, then
TensorFlow's LiteRT converter) with the converter settings of each
quantization; nothing here rewrites a converter.
"""

import os
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from tfkd import atomic
from tfkd.litert_model import LiteRTModel
from tfkd.precision import recast
from tfkd.version import __version__

QUANTIZATIONS = (None, "float16", "dynamic", "int8", "int16x8")
# Quantizations that calibrate activation ranges on representative data.
CALIBRATED = ("int8", "int16x8")
MIN_REPRESENTATIVE = 50
# Examples used for int8 calibration (a few hundred suffice).
MAX_REPRESENTATIVE = 500
FLOAT_ATOL = 1e-4


def check_quantize(quantize):
    """Raises a ValueError unless `quantize` is a LiteRT quantization tfkd knows."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of {list(QUANTIZATIONS)}, got {quantize!r}.")


def _as_arrays(data, what, limit=None):
    """`(images, labels or None)` as NumPy from arrays, a tuple or a dataset."""
    if data is None:
        return None, None
    if isinstance(data, tf.data.Dataset):
        xs, ys, n = [], [], 0
        for element in data:
            x, y = (element[0], element[1]) if isinstance(element, (tuple, list)) else (element, None)
            xs.append(np.asarray(x))
            ys.append(None if y is None else np.asarray(y))
            n += len(xs[-1])
            if limit and n >= limit:
                break
        if not xs:
            raise ValueError(f"`{what}` is an empty dataset.")
        x = np.concatenate(xs)
        y = None if any(v is None for v in ys) else np.concatenate(ys)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
    else:
        x, y = np.asarray(data), None
    if limit:
        x, y = x[:limit], None if y is None else y[:limit]
    return x, y


def _check_images(x, input_shape, what):
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"`{what}` must hold float images like the training inputs, got {x.dtype}. Fix: tfkd.data.to_float(images)."
        )
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(
            f"`{what}` has images of shape {tuple(x.shape[1:])}, but the student takes {tuple(input_shape)}."
        )


def validate(quantize, representative_data, input_shape, int8_io, float_logits=False):
    """Checks the arguments before any conversion; returns calibration images.

    Raises:
        ValueError: for an unknown quantization, int8 or int16x8 without
            (enough, or well-shaped) representative data, `int8_io` without
            int8, or `float_logits` without int8 or with `int8_io`.
    """
    check_quantize(quantize)
    if int8_io and quantize != "int8":
        raise ValueError(f"int8_io=True needs quantize='int8', got quantize={quantize!r}.")
    if float_logits and quantize != "int8":
        raise ValueError(
            f"float_logits=True keeps the last layer of an int8 export in float; it needs quantize='int8', "
            f"got quantize={quantize!r}."
        )
    if float_logits and int8_io:
        raise ValueError(
            "float_logits=True gives float32 logits, so the output cannot be int8; pass int8_io=False, or "
            "float_logits=False for a fully integer file."
        )
    if quantize not in CALIBRATED:
        return None
    if representative_data is None:
        raise ValueError(
            f"quantize={quantize!r} needs `representative_data`: a few hundred training examples with the "
            "same preprocessing, to calibrate activation ranges. Fix: pass representative_data=train_ds."
        )
    x, _ = _as_arrays(representative_data, "representative_data", MAX_REPRESENTATIVE)
    _check_images(x, input_shape, "representative_data")
    if len(x) < MIN_REPRESENTATIVE:
        raise ValueError(
            f"`representative_data` has {len(x)} examples; int8 calibration needs at least "
            f"{MIN_REPRESENTATIVE} (a few hundred is typical)."
        )
    return x.astype(np.float32)


def _converter_settings(quantize, calibration, int8_io):
    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize is None:
        return {"target_spec": {"supported_ops": builtins}}
    settings = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantize == "float16":
        settings["target_spec"] = {"supported_ops": builtins, "supported_types": [tf.float16]}
    elif quantize == "dynamic":
        settings["target_spec"] = {"supported_ops": builtins}
    else:

        def representative_dataset():
            for i in range(len(calibration)):
                yield [calibration[i : i + 1]]

        settings["representative_dataset"] = representative_dataset
        ops = tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if quantize == "int16x8":  # int16 activations: finer steps, reference (slower) kernels
            ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        settings["target_spec"] = {"supported_ops": [ops]}
        if int8_io:
            settings["inference_input_type"] = tf.int8
            settings["inference_output_type"] = tf.int8
    return settings


def convert(model, quantize=None, calibration=None, int8_io=False, float_logits=False):
    """The `.tflite` bytes of a float32 Keras model.

    Raises:
        ValueError: if the model needs ops outside LiteRT's builtins (Flex);
            the message lists them.
    """
    settings = _converter_settings(quantize, calibration, int8_io)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        try:
            if float_logits:
                return _int8_with_float_logits(model, settings, tmp)
            model.export(path, format="litert", verbose=False, **settings)
        except Exception as e:  # the converter reports unsupported ops in its message
            text = str(e)
            if "select" in text.lower() or "flex" in text.lower() or "not supported" in text.lower():
                ops = sorted(set(_op_names(text)))
                raise ValueError(
                    f"The student needs ops that LiteRT's builtin kernels do not have{f': {ops}' if ops else ''}; "
                    "tfkd refuses exports that need the Flex (SELECT_TF_OPS) delegate. Fix: replace those layers "
                    "with builtin-supported ones."
                ) from e
            raise
        with open(path, "rb") as f:
            return f.read()


def _int8_with_float_logits(model, settings, tmp):
    """Full-integer int8 except the op that produces the output (the logits
    layer), which stays float32: TensorFlow's selective quantization
    (`tf.lite.experimental.QuantizationDebugger` with a denylisted node) on
    the converter of the model's SavedModel, the path Keras's own LiteRT
    export takes.
    """
    from ai_edge_litert.interpreter import Interpreter

    saved = os.path.join(tmp, "saved_model")
    model.export(saved, format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    converter.optimizations = settings["optimizations"]
    converter.representative_dataset = settings["representative_dataset"]
    converter.target_spec.supported_ops = settings["target_spec"]["supported_ops"]
    with warnings.catch_warnings():
        # The debugger loads its instrumented model in tf.lite.Interpreter,
        # which warns about its own deprecation; tfkd's checks use LiteRT's.
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        options = tf.lite.experimental.QuantizationDebugOptions(fully_quantize=False)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=settings["representative_dataset"], debug_options=options
        )
        # The calibrated (not yet quantized) model names the output tensor;
        # the op that writes it is the one kept in float.
        output = Interpreter(model_content=debugger.calibrated_model).get_output_details()[0]["name"]
        debugger.options = tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=[output], fully_quantize=False
        )
        return debugger.get_nondebug_quantized_model()


def _op_names(text):
    import re

    return re.findall(r"tf\.([A-Za-z0-9_]+)", text)


def _agreement_and_accuracy(keras_logits, lite_logits, labels):
    agree = float(np.mean(np.argmax(keras_logits, -1) == np.argmax(lite_logits, -1)))
    if labels is None:
        return agree, None, None
    y = np.argmax(labels, -1) if labels.ndim == 2 else labels
    acc = lambda logits: float(np.mean(np.argmax(logits, -1) == y))
    return agree, acc(keras_logits), acc(lite_logits)


def check(model, content, quantize, check_data, calibration, max_accuracy_drop, input_shape):
    """Loads the converted bytes in the LiteRT interpreter and compares them
    with the Keras model. Returns the report (a dict).

    Raises:
        RuntimeError: float32 logits off by more than 1e-4, or a quantized
            accuracy drop over `max_accuracy_drop` points.
    """
    lite = LiteRTModel(content=content)
    report = {}
    if quantize is None:
        sample = np.random.default_rng(0).random((8,) + tuple(input_shape)).astype(np.float32)
        diff = float(np.max(np.abs(lite.predict(sample) - model.predict(sample, verbose=0))))
        report["max_abs_diff"] = diff
        if not diff <= FLOAT_ATOL:
            raise RuntimeError(
                f"LiteRT check failed: float32 logits differ from the Keras student by {diff:.3g} "
                f"(allowed {FLOAT_ATOL:g}). Nothing was written."
            )
    x, y = check_data if check_data is not None else (calibration, None)
    if x is None:
        return report
    keras_logits = model.predict(x, batch_size=256, verbose=0)
    agree, acc_keras, acc_lite = _agreement_and_accuracy(keras_logits, lite.predict(x), y)
    report.update(check_examples=int(len(x)), agreement=agree, keras_accuracy=acc_keras, litert_accuracy=acc_lite)
    if acc_keras is not None:
        drop = 100 * (acc_keras - acc_lite)
        report["accuracy_drop_points"] = drop
        if quantize is not None and max_accuracy_drop is not None and drop > max_accuracy_drop:
            raise RuntimeError(
                f"LiteRT check failed: {quantize} accuracy {100 * acc_lite:.2f}% vs {100 * acc_keras:.2f}% for the "
                f"Keras student, a drop of {drop:.2f} points (allowed {max_accuracy_drop}). Nothing was written. "
                "Fix: more or more representative calibration data, quantize='dynamic' or 'float16', or raise "
                "max_accuracy_drop."
            )
    return report


def sidecar_path(path):
    """The JSON report beside a `.tflite` file."""
    return os.path.splitext(path)[0] + ".json"


def write(path, content, report, overwrite):
    """Writes the file and its JSON report atomically; the `.tflite` is
    renamed into place last, so it never appears without a report, and an
    existing file is replaced only with `overwrite`.

    Returns:
        The report as written.

    Raises:
        FileExistsError: if `path` or its report exists and `overwrite` is False.
    """
    json_path = sidecar_path(path)
    if not overwrite and (os.path.exists(path) or os.path.exists(json_path)):
        raise FileExistsError(
            f"Export destination {path!r} exists; tfkd never overwrites an export silently. "
            "Fix: choose another path, or pass overwrite=True (--config.overwrite=True in the recipes)."
        )
    report = {**report, "size_bytes": len(content), "tfkd_version": __version__}
    atomic.write_json(json_path, report, indent=2)
    atomic.write_bytes(path, content)
    return report


def export(
    student,
    path,
    compute_dtype,
    overwrite,
    quantize,
    int8_io,
    float_logits,
    *,
    representative_data,
    check_data,
    max_accuracy_drop,
    metadata=None,
):
    """Writes `student` as a checked LiteRT file at `path` (see
    `tfkd.export_student` for the arguments).

    Returns:
        The absolute path of the `.tflite` file.

    Raises:
        ValueError, FileExistsError, RuntimeError: as `tfkd.export_student`.
    """
    if compute_dtype != "float32":
        raise ValueError(
            "A LiteRT export is converted from the float32 student; pass quantize='float16' for "
            f"float16 weights instead of compute_dtype={compute_dtype!r}."
        )
    path = os.path.abspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(f"A LiteRT export is one file ending in '.tflite', got {path!r}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"Export destination {path!r} exists; tfkd never overwrites an export silently. "
            "Fix: choose another path, or pass overwrite=True (--config.overwrite=True in the recipes)."
        )
    input_shape = tuple(student.inputs[0].shape[1:])
    calibration = validate(quantize, representative_data, input_shape, int8_io, float_logits)
    checks = None
    if check_data is not None:
        x, y = _as_arrays(check_data, "check_data")
        _check_images(x, input_shape, "check_data")
        checks = (x.astype(np.float32), y)
    model = recast(student, "float32")
    content = convert(model, quantize, calibration, int8_io, float_logits)
    report = check(model, content, quantize, checks, calibration, max_accuracy_drop, input_shape)
    report = {
        "format": "litert",
        "quantization": quantize or "float32",
        "int8_io": bool(int8_io),
        "float_logits": bool(float_logits),
        **report,
        **(metadata or {}),
    }
    write(path, content, report, overwrite)
    return path
