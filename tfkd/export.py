"""Export of the student alone, checked and atomic: a TensorFlow SavedModel,
or a LiteRT file (float32, float16, dynamic-range or int8; `tfkd.litert_export`).
"""

import ctypes
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from tfkd.taps import LOGITS, build_tap_model

DEFAULT_DIR = "saved_models"


def _student_of(model_or_distiller):
    from tfkd.distiller import Distiller

    if isinstance(model_or_distiller, Distiller):
        return model_or_distiller.student
    if not isinstance(model_or_distiller, keras.Model):
        raise ValueError(
            f"export_student expects a keras.Model or a tfkd.Distiller, got {type(model_or_distiller).__name__}."
        )
    return model_or_distiller


def _with_dtype(config, dtype):
    """Replaces every dtype policy in a model config by `dtype`."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return {**config, "config": {**config["config"], "name": dtype}}
        return {k: _with_dtype(v, dtype) for k, v in config.items()}
    if isinstance(config, list):
        return [_with_dtype(v, dtype) for v in config]
    return config


def _recast(student, compute_dtype):
    """A copy of the student computing in `compute_dtype`, same weights."""
    if precision_of(student) == compute_dtype:
        return student
    config = _with_dtype(student.get_config(), compute_dtype)
    clone = student.__class__.from_config(config)
    clone.set_weights(student.get_weights())
    return clone


def precision_of(model):
    """The mixed-precision policy name a model's layers use, or `"float32"`."""
    names = {l.dtype_policy.name for l in model._flatten_layers(include_self=False)}
    mixed = [n for n in names if n.startswith("mixed")]
    return mixed[0] if mixed else "float32"


def _check_destination(path, overwrite):
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        if not overwrite:
            raise FileExistsError(
                f"Export destination {path!r} exists and is not empty; tfkd "
                "never overwrites an export silently. Fix: choose another "
                "path, or pass overwrite=True (--overwrite) to replace it."
            )


FORMATS = ("saved_model", "litert")


def export_student(
    model_or_distiller,
    path=None,
    compute_dtype="float32",
    overwrite=False,
    sample=None,
    atol=1e-5,
    format="saved_model",
    quantize=None,
    representative_data=None,
    check_data=None,
    max_accuracy_drop=0.5,
    int8_io=False,
    float_logits=False,
):
    """Writes the student alone as a TensorFlow SavedModel (or a LiteRT file)
    and verifies it before moving it into place.

    **LiteRT** (`format="litert"`, a path ending in `.tflite`): one file,
    float32 (`quantize=None`), float16 weights, dynamic-range (int8 weights,
    float activations), full-integer int8 (weights and activations,
    calibrated on `representative_data`; float32 inputs and outputs unless
    `int8_io=True`; with `float_logits=True` the last layer stays float32)
    or int16x8 (int8 weights, int16 activations: the size of
    int8 and closer to float32, on LiteRT's slower reference kernels). Only
    LiteRT's builtin ops are allowed (no Flex). The
    file is loaded in the LiteRT interpreter first: float32 logits must match
    the Keras student within 1e-4; a quantized file is compared on
    `check_data` (top-1 agreement and accuracy) and refused when its accuracy
    drops by more than `max_accuracy_drop` points (for int8 the check always
    runs: on `check_data`, or on the calibration images for agreement alone).
    A JSON report (format, quantization, size, agreement, accuracies,
    commit) is written beside it, e.g. `student_int8.json`.

    The SavedModel has a `serving_default` signature taking float32 images
    `(batch, *input_shape)` and returning float32 `logits` and
    `probabilities` (softmax of the logits). Teachers and distillation
    adapters are never included. The export is written to a temporary
    folder beside `path`, reloaded with `tf.saved_model.load` and compared
    with the Keras student on a batch; only then is it moved into place, so
    a failed or interrupted export leaves any previous export intact.

    Args:
        model_or_distiller: a built `keras.Model` or a `tfkd.Distiller`.
        path: destination folder. Defaults to `saved_models/<student name>`.
        compute_dtype: `"float32"` (default; a mixed-precision student is
            rebuilt to compute in float32 for CPU serving), `"mixed_float16"`
            or `"mixed_bfloat16"`.
        overwrite: replace a non-empty `path`. Defaults to False.
        sample: a batch of inputs for the parity check. Defaults to 8 seeded
            random images.
        atol: largest allowed absolute difference in the parity check for a
            float32 export (looser tolerances apply to mixed exports).
        format: `"saved_model"` (default) or `"litert"`.
        quantize: LiteRT only: None, `"float16"`, `"dynamic"`, `"int8"` or
            `"int16x8"`.
        representative_data: for int8 and int16x8: training images (array,
            `(x, y)` or a dataset of batches), at least 50; the first 500 are
            used.
        check_data: `(images, labels)` or a dataset held out from training,
            for the accuracy check of a LiteRT export.
        max_accuracy_drop: largest allowed accuracy drop in points (None:
            report only). Defaults to 0.5.
        int8_io: int8 inputs and outputs (with `quantize="int8"`).
        float_logits: with `quantize="int8"`, keep the op that produces the
            logits (the last Dense layer) in float32 and everything before
            it in int8. Int8 logits step in units of about 1/256 of their
            calibrated range, so an overconfident student (logits spanning
            hundreds) turns near-ties into ties or flips; a float last layer
            removes that at 3 more bytes per weight of that layer.

    Returns:
        The export path.

    Raises:
        ValueError: for a model that is not built, a bad `compute_dtype`,
            format, quantization, path suffix or representative data, or
            ops LiteRT cannot run without Flex; all before any conversion
            where they can be seen.
        FileExistsError: if `path` exists and `overwrite` is False.
        RuntimeError: if the reloaded export disagrees with the Keras model
            (nothing is written then).

    Example:

    ```python
    tfkd.export_student(distiller, "saved_models/fmnist_student")
    served = tf.saved_model.load("saved_models/fmnist_student")
    served.signatures["serving_default"](images)["probabilities"]

    tfkd.export_student(distiller, "saved_models/fmnist_student_int8.tflite",
                        format="litert", quantize="int8",
                        representative_data=train_ds, check_data=val_ds)
    ```
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {list(FORMATS)}, got {format!r}.")
    if format == "saved_model" and quantize is not None:
        raise ValueError(
            f"quantize={quantize!r} needs format='litert' (a SavedModel is exported in float). Fix: "
            "pass format='litert' and a path ending in .tflite."
        )
    if format == "saved_model" and path is not None and str(path).endswith(".tflite"):
        raise ValueError(
            f"{str(path)!r} ends in '.tflite', a LiteRT file, but format='saved_model' writes a folder. Fix: pass "
            "format='litert' (and quantize=...) for a LiteRT file, or a folder name for a SavedModel."
        )
    student = _student_of(model_or_distiller)
    if format == "litert":
        checks = dict(
            representative_data=representative_data, check_data=check_data, max_accuracy_drop=max_accuracy_drop
        )
        return _export_litert(student, path, compute_dtype, overwrite, quantize, int8_io, float_logits, **checks)
    if float_logits:
        raise ValueError("float_logits=True needs format='litert' and quantize='int8'.")
    _check_built(student)
    if compute_dtype not in ("float32", "mixed_float16", "mixed_bfloat16"):
        raise ValueError(
            f"`compute_dtype` must be 'float32', 'mixed_float16' or 'mixed_bfloat16', got {compute_dtype!r}."
        )
    path = os.path.abspath(path or os.path.join(DEFAULT_DIR, student.name))
    _recover(path)
    _check_destination(path, overwrite)

    model = _recast(student, compute_dtype)
    taps = build_tap_model(model, [], role="student")
    input_shape = tuple(student.inputs[0].shape[1:])

    def serve(images):
        logits = tf.cast(taps(images, training=False)[LOGITS], tf.float32)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    archive = keras.export.ExportArchive()
    archive.track(taps)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec((None,) + input_shape, tf.float32, name="images")],
    )
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        archive.write_out(tmp, verbose=False)
        if sample is None:
            sample = np.random.default_rng(0).random((8,) + input_shape).astype("float32")
        _check_parity(tmp, serve, sample, atol if compute_dtype == "float32" else 1e-2)
        _move_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _export_litert(
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
):
    from tfkd import litert_export

    _check_built(student)
    if compute_dtype != "float32":
        raise ValueError(
            "A LiteRT export is converted from the float32 student; pass quantize='float16' for "
            f"float16 weights instead of compute_dtype={compute_dtype!r}."
        )
    path = os.path.abspath(path or os.path.join(DEFAULT_DIR, f"{student.name}_{quantize or 'float32'}.tflite"))
    if not path.endswith(".tflite"):
        raise ValueError(f"A LiteRT export is one file ending in '.tflite', got {path!r}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"Export destination {path!r} exists; tfkd never overwrites an export silently. "
            "Fix: choose another path, or pass overwrite=True (--overwrite)."
        )
    input_shape = tuple(student.inputs[0].shape[1:])
    calibration = litert_export.validate(quantize, representative_data, input_shape, int8_io, float_logits)
    checks = None
    if check_data is not None:
        x, y = litert_export._as_arrays(check_data, "check_data")
        litert_export._check_images(x, input_shape, "check_data")
        checks = (x.astype(np.float32), y)
    model = _recast(student, "float32")
    content = litert_export.convert(model, quantize, calibration, int8_io, float_logits)
    report = litert_export.check(model, content, quantize, checks, calibration, max_accuracy_drop, input_shape)
    report = {
        "format": "litert",
        "quantization": quantize or "float32",
        "int8_io": bool(int8_io),
        "float_logits": bool(float_logits),
        **report,
    }
    litert_export.write(path, content, report, overwrite)
    return path


def _check_built(student):
    if not student.built or not getattr(student, "inputs", None):
        raise ValueError(
            f"Cannot export `{student.name}`: it is not built (no input shape). Fix: build it with "
            "keras.Input(shape=...) or call it on a batch first."
        )


def _check_parity(export_dir, serve, sample, atol):
    loaded = tf.saved_model.load(export_dir)
    got = loaded.signatures["serving_default"](images=tf.constant(sample, tf.float32))
    want = serve(tf.constant(sample, tf.float32))
    for key in ("logits", "probabilities"):
        if got[key].dtype != tf.float32:
            raise RuntimeError(f"Export check failed: {key} is {got[key].dtype}, expected float32.")
        diff = float(np.max(np.abs(got[key].numpy() - want[key].numpy())))
        if not diff <= atol:
            raise RuntimeError(
                f"Export check failed: the reloaded SavedModel's {key} differ "
                f"from the Keras student by {diff:.3g} (allowed {atol:g}). The "
                "previous export, if any, was left untouched."
            )


def _exchange(a, b):
    """Atomically swaps two paths (Linux renameat2 RENAME_EXCHANGE).

    Returns:
        False where the system or file system cannot do it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    ok = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    return ok


def _move_into_place(tmp, path):
    """Puts `tmp` at `path`. A previous export is swapped out atomically
    where the system can (so `path` always holds a whole export, old or
    new) and removed only afterwards.
    """
    if not os.path.exists(path):
        os.rename(tmp, path)
    elif _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old export
    else:
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=os.path.dirname(path))
        os.rmdir(old)
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)


def _recover(path):
    """Puts back a previous export left aside by an interrupted two-rename
    swap (systems without RENAME_EXCHANGE), and drops unfinished exports
    older than an hour (a younger one may still be being written).
    """
    parent, name = os.path.dirname(path), os.path.basename(path)
    if not os.path.isdir(parent):
        return
    for entry in sorted(os.listdir(parent)):
        if entry.startswith(f".{name}.old-") and not os.path.exists(path):
            os.rename(os.path.join(parent, entry), path)
        elif entry.startswith(f".{name}.old-") or (
            entry.startswith(f".{name}.tmp-") and time.time() - os.path.getmtime(os.path.join(parent, entry)) > 3600
        ):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
