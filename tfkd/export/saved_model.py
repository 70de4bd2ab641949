"""The student as a TensorFlow SavedModel, checked before it is moved into
place.

The SavedModel is Keras's `ExportArchive` with one `serving_default`
signature: float32 images in, float32 `logits` and `probabilities` out.
"""

import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from tfkd import atomic
from tfkd.precision import PRECISIONS, recast
from tfkd.taps import LOGITS, build_tap_model

# Largest difference allowed between the reloaded export and the Keras
# student when either computes in a 16-bit float (a few float16 steps of
# logits of magnitude ~10).
MIXED_ATOL = 1e-2


def check_destination(path, overwrite):
    """Refuses a non-empty destination unless `overwrite`.

    Raises:
        FileExistsError: if `path` exists, is not empty and `overwrite` is False.
    """
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)) and not overwrite:
        raise FileExistsError(
            f"Export destination {path!r} exists and is not empty; tfkd never overwrites an export silently. "
            "Fix: choose another path, or pass overwrite=True (--config.overwrite=True in the recipes) to replace it."
        )


def check_parity(export_dir, serve, sample, atol):
    """Reloads the export and compares its outputs with `serve`'s.

    Raises:
        RuntimeError: for outputs that are not float32 or differ by more
            than `atol`.
    """
    loaded = tf.saved_model.load(export_dir)
    got = loaded.signatures["serving_default"](images=tf.constant(sample, tf.float32))
    want = serve(tf.constant(sample, tf.float32))
    for key in ("logits", "probabilities"):
        if got[key].dtype != tf.float32:
            raise RuntimeError(f"Export check failed: {key} is {got[key].dtype}, expected float32.")
        diff = float(np.max(np.abs(got[key].numpy() - want[key].numpy())))
        if not diff <= atol:
            raise RuntimeError(
                f"Export check failed: the reloaded SavedModel's {key} differ from the Keras student by "
                f"{diff:.3g} (allowed {atol:g}). The previous export, if any, was left untouched."
            )


def export(student, path, compute_dtype="float32", overwrite=False, sample=None, atol=1e-5):
    """Writes `student` as a SavedModel at `path`, checked and atomic.

    The export is written to a temporary folder beside `path`, reloaded with
    `tf.saved_model.load` and compared with the Keras student on `sample`;
    only then is it moved into place, so a failed or interrupted export
    leaves any previous export intact.

    Args:
        student: a built Keras model.
        path: the destination folder (absolute).
        compute_dtype: one of `tfkd.precision.PRECISIONS`.
        overwrite: replace a non-empty `path`.
        sample: a batch for the parity check (8 seeded random images if None).
        atol: the parity tolerance of a float32 export.

    Returns:
        `path`.

    Raises:
        ValueError: for an unknown `compute_dtype`.
        FileExistsError: as `check_destination`.
        RuntimeError: as `check_parity` (nothing is written then).

    Example:
        >>> export(student, os.path.abspath("saved_models/student"))
    """
    if compute_dtype not in PRECISIONS:
        raise ValueError(f"`compute_dtype` must be one of {list(PRECISIONS)}, got {compute_dtype!r}.")
    atomic.recover_folder(path)
    check_destination(path, overwrite)
    model = recast(student, compute_dtype)
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
    tmp = atomic.temporary_folder(path)
    try:
        archive.write_out(tmp, verbose=False)
        if sample is None:
            sample = np.random.default_rng(0).random((8,) + input_shape).astype("float32")
        check_parity(tmp, serve, sample, atol if compute_dtype == "float32" else MIXED_ATOL)
        atomic.replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
