"""Checks of the first training batch, so misuse fails before any step."""

import keras
import numpy as np
import tensorflow as tf

CACHED_INPUTS = "tfkd_inputs"
# Key of a dataset element's inputs that carries each example's index in the
# dataset (tfkd.data.seeded_epochs(..., with_indices=True), the view cache).
EXAMPLE_INDEX = "tfkd_index"


def _first_batch(x, y, batch_size):
    """`(inputs, labels)` of the first batch, or None when it cannot be seen
    without consuming data (generators, PyDataset).
    """
    if isinstance(x, tf.data.Dataset):
        element = next(iter(x.take(1)), None)
        if element is None:
            raise ValueError("The training dataset is empty. Fix: check its source and any filter or take().")
        inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(element)
        return inputs, labels
    if isinstance(x, (np.ndarray, tf.Tensor)):
        n = batch_size or 32
        return x[:n], None if y is None else y[:n]
    return None


def check_first_batch(student, needs_labels, x, y=None, batch_size=None, loss=None, losses=()):
    """Checks the first batch of `fit` data against the student.

    Args:
        student: the student `keras.Model`.
        needs_labels: whether the hard-label loss is on.
        x: the inputs given to `fit`.
        y: the labels given to `fit`, if separate.
        batch_size: the batch size given to `fit`.
        loss: the compiled hard-label loss, if any.
        losses: the distillation losses (some need labels or indices).

    Raises:
        ValueError: for inputs of the wrong shape or dtype, missing labels,
            missing example indices, or labels out of range for the
            student's classes.
    """
    batch = _first_batch(x, y, batch_size)
    if batch is None:
        return
    inputs, labels = batch
    index_users = [l.name for l in losses if l.needs_indices]
    if index_users and not (isinstance(inputs, dict) and EXAMPLE_INDEX in inputs):
        raise ValueError(
            f"Loss {index_users[0]!r} needs each example's index in the dataset (its memory bank is indexed by "
            "example), but the training data carries none. Fix: make the data with "
            "tfkd.data.seeded_epochs((x, y), batch_size, with_indices=True) or tfkd.cache_teacher_views, or yield "
            f"({{'{CACHED_INPUTS}': images, '{EXAMPLE_INDEX}': indices}}, labels)."
        )
    if isinstance(inputs, dict) and CACHED_INPUTS in inputs:
        inputs = inputs[CACHED_INPUTS]
    images = tf.nest.flatten(inputs)[0]
    expected = student.inputs[0].shape if getattr(student, "inputs", None) else None
    dtype = tf.as_dtype(images.dtype)
    if not dtype.is_floating:
        raise ValueError(
            f"The training inputs are {dtype.name}, but the models take floating-point inputs. Fix: convert "
            "them, e.g. `tf.cast(images, tf.float32) / 255` for 8-bit images (tfkd.data.to_float does this)."
        )
    if expected is not None:
        got = tuple(images.shape[1:])
        want = tuple(expected[1:])
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            raise ValueError(
                f"The training inputs have shape {(None,) + got} per batch, but the student "
                f"`{student.name}` takes {(None,) + want}. Fix: resize or reshape the data (or build the "
                "models for this input shape)."
            )
    label_users = [l.name for l in losses if l.needs_labels]
    if labels is None and label_users:
        raise ValueError(
            f"Loss {label_users[0]!r} needs the true labels, but the training data yields none. Fix: yield "
            "(inputs, labels) batches."
        )
    if labels is None:
        if needs_labels:
            raise ValueError(
                "The training data yields no labels, but student_loss_weight > 0 needs them for the hard-label "
                "loss. Fix: yield (inputs, labels), or make the Distiller with student_loss_weight=0 to "
                "distil from the teacher alone."
            )
        return
    classes = student.outputs[0].shape[-1] if getattr(student, "outputs", None) else None
    labels = np.asarray(tf.nest.flatten(labels)[0])
    sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy) or loss == "sparse_categorical_crossentropy"
    if sparse and labels.ndim == 2 and np.issubdtype(labels.dtype, np.floating):
        raise ValueError(
            f"The labels are float vectors of shape {labels.shape} (one-hot or mixed, as mixup makes them), but the "
            "hard-label loss is SparseCategoricalCrossentropy, which takes class indices. Fix: compile with "
            "keras.losses.CategoricalCrossentropy(from_logits=True) (the recipes switch to it with --config.mixup)."
        )
    if sparse and labels.ndim >= 2 and labels.shape[1:] != (1,):
        raise ValueError(
            f"The labels have shape {labels.shape}, but the hard-label loss is SparseCategoricalCrossentropy, "
            "which takes one class index per example: shape (batch,) or (batch, 1). Fix: yield one integer label "
            "per example, or compile with keras.losses.CategoricalCrossentropy(from_logits=True) for one-hot or "
            "mixed label vectors of shape (batch, classes)."
        )
    if classes and np.issubdtype(labels.dtype, np.integer) and labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= classes:
            raise ValueError(
                f"The first batch has labels from {low} to {high}, but the student predicts {classes} classes "
                f"(labels 0..{classes - 1}). Fix: remap the labels or give the models {high + 1} outputs."
            )
