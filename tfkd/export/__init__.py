"""Export of the student alone, checked and atomic, one module per format
(as Keras's own `keras/src/export/`): a TensorFlow SavedModel
(`tfkd.export.saved_model`) or a LiteRT file, float32, float16,
dynamic-range, int8 or int16x8 (`tfkd.export.litert`).
"""

import os

import keras

from tfkd.export import litert, saved_model

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


def _check_built(student):
    if not student.built or not getattr(student, "inputs", None):
        raise ValueError(
            f"Cannot export `{student.name}`: it is not built (no input shape). Fix: build it with "
            "keras.Input(shape=...) or call it on a batch first."
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
    metadata=None,
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
    A JSON report (format, quantization, size, agreement, accuracies, the
    tfkd version and any `metadata`) is written beside it, e.g. `student_int8.json`.

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
        metadata: LiteRT only: JSON-able entries added to the report (the
            recipes add the commit they ran).

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
        _check_built(student)
        path = path or os.path.join(DEFAULT_DIR, f"{student.name}_{quantize or 'float32'}.tflite")
        return litert.export(
            student, path, compute_dtype, overwrite, quantize, int8_io, float_logits, metadata=metadata, **checks
        )
    if float_logits:
        raise ValueError("float_logits=True needs format='litert' and quantize='int8'.")
    if metadata:
        raise ValueError("`metadata` goes into a LiteRT export's JSON report; it needs format='litert'.")
    _check_built(student)
    path = os.path.abspath(path or os.path.join(DEFAULT_DIR, student.name))
    return saved_model.export(student, path, compute_dtype, overwrite, sample, atol)


__all__ = ["DEFAULT_DIR", "FORMATS", "export_student", "litert", "saved_model"]
