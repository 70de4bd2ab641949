"""Per-layer sensitivity to pruning, and non-uniform fractions from it.

Li et al. (2017, "Pruning Filters for Efficient ConvNets") prune each layer
alone and measure the accuracy left: layers whose accuracy collapses are
pruned less. `layer_sensitivity` measures it. `search_keep` allocates the
channels of a whole model at once, greedily (NetAdapt, Yang et al. 2018,
without its fine-tuning between rounds): `prune_width`'s `{layer: fraction}`
with the parameter count of a uniform fraction, so a uniform and a
non-uniform student of the same size can be compared.
"""

import numpy as np

from tfkd.pruning import importance as importance_lib
from tfkd.pruning.batchnorm import recalibrate_batchnorm
from tfkd.pruning.channel_graph import ChannelGraph
from tfkd.pruning.importance import calibration_images
from tfkd.pruning.width import _check_fraction, _fractions, cut, prunable_groups, prune_width, rank


def _accuracy(model, images, labels, batch_size):
    # Called eagerly: every candidate is a new model, and tracing `predict`
    # for each costs more than the forward passes themselves.
    hits = 0
    for start in range(0, len(images), batch_size):
        logits = np.asarray(model(images[start : start + batch_size], training=False))
        hits += int(np.sum(np.argmax(logits, axis=-1) == labels[start : start + batch_size]))
    return hits / len(images)


def _labelled(data, model):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(
            f"`data` must be `(images, labels)` arrays (validation images and their integer labels), got "
            f"{type(data).__name__}. Fix: pass e.g. (x_val, y_val)."
        )
    images = calibration_images(np.asarray(data[0]), tuple(model.inputs[0].shape[1:]), limit=len(data[0]))
    labels = np.asarray(data[1])
    if labels.ndim == 2:
        labels = np.argmax(labels, axis=-1)
    if labels.shape != (len(images),):
        raise ValueError(
            f"`data` has {len(images)} images but labels of shape {labels.shape}. Fix: one integer label (or one "
            "one-hot row) per image."
        )
    return images, labels


def _inputs(data, model, calibration_data, caller):
    """The evaluation images and integer labels; refuses missing calibration data."""
    images, labels = _labelled(data, model)
    if calibration_data is None:
        raise ValueError(
            f"{caller} re-estimates BatchNorm statistics after each cut and needs calibration_data. Fix: pass "
            "calibration_data=train_images[:512]."
        )
    return images, labels


def layer_sensitivity(model, data, keep=0.5, calibration_data=None, importance="activation", batch_size=256):
    """The accuracy of `model` with each prunable layer alone cut to `keep`.

    Each group of tied layers (see `prune_width`) is pruned on its own, the
    BatchNorm statistics re-estimated on `calibration_data`, and the result
    evaluated on `data` without any training.

    Args:
        model: a trained functional `keras.Model` (left untouched).
        data: `(images, labels)` to evaluate on: a validation split, never
            the test split. Labels are integers or one-hot rows.
        keep: the fraction of channels each layer keeps in its turn.
        calibration_data: training images for the activation importance and
            the BatchNorm re-estimation (the first 512 are used).
        importance: as in `prune_width`.
        batch_size: images per forward pass.

    Returns:
        `{layer name: accuracy}`, one entry per producer layer (tied layers
        share their group's value), in the model's order.

    Raises:
        ValueError: for bad `data`, `keep` or calibration data, before any
            pruning.

    Example:

    ```python
    tfkd.pruning.layer_sensitivity(teacher, (x_val, y_val), 0.5, calibration_data=x_train[:512])
    # {'t_block1a': 0.21, 't_block1': 0.55, ...}
    ```
    """
    _check_fraction(keep, "`keep`")
    images, labels = _inputs(data, model, calibration_data, "layer_sensitivity")
    out = {}
    for group in prunable_groups(model):
        pruned = prune_width(model, {name: keep for name in group}, calibration_data, importance)
        recalibrate_batchnorm(pruned, calibration_data)
        accuracy = _accuracy(pruned, images, labels, batch_size)
        out.update({name: accuracy for name in group})
    return out


def search_keep(model, data, keep=0.5, calibration_data=None, importance="activation", step=0.0625, batch_size=256):
    """Per-layer fractions for `prune_width`, found greedily at uniform `keep`'s size.

    From the whole model, each round tries cutting every group of tied
    layers by `step` of its channels (with the BatchNorm statistics
    re-estimated, no training) and takes the cut that loses the least
    accuracy on `data` per parameter removed, until the model has no more
    parameters than `prune_width(model, keep)`. This is NetAdapt's loop (Yang
    et al. 2018) without its short fine-tuning between rounds: layers that
    matter keep more channels, layers that do not give up more.

    Args:
        model: a trained functional `keras.Model` (left untouched).
        data: `(images, labels)` to judge the cuts on: a validation split,
            never the test split (a few thousand images suffice).
        keep: the uniform fraction whose parameter count is the budget.
        calibration_data: training images for the activation importance and
            the BatchNorm re-estimation (the first 512 are used).
        importance: as in `prune_width`.
        step: the fraction of a layer's original channels one cut removes
            (1/16 by default).
        batch_size: images per forward pass.

    Returns:
        `{layer name: fraction}`, for `prune_width(model, keep=...)`.

    Raises:
        ValueError: for bad `data`, fractions or calibration data, before
            any pruning.

    Example:

    ```python
    keep = tfkd.pruning.search_keep(teacher, (x_val[:2000], y_val[:2000]), 0.5, calibration_data=x)
    student = tfkd.prune_width(teacher, keep, calibration_data=x)
    ```
    """
    _check_fraction(keep, "`keep`")
    _check_fraction(step, "`step`")
    images, labels = _inputs(data, model, calibration_data, "search_keep")
    if importance not in importance_lib.METHODS:
        raise ValueError(f"`importance` must be one of {list(importance_lib.METHODS)}, got {importance!r}.")
    groups = prunable_groups(model)
    budget = prune_width(model, keep, importance="magnitude").count_params()
    # One graph and one ranking of the original model serve every candidate.
    graph = ChannelGraph(model)
    calibration = calibration_images(calibration_data, tuple(model.inputs[0].shape[1:]))
    scores = rank(graph, importance, calibration)

    def fractions_of(levels):
        return {name: level for group, level in zip(groups, levels) for name in group}

    def evaluate(levels):
        pruned = cut(graph, _fractions(graph, fractions_of(levels)), scores)
        recalibrate_batchnorm(pruned, calibration)
        return pruned.count_params(), _accuracy(pruned, images, labels, batch_size)

    levels = [1.0] * len(groups)
    params, accuracy = model.count_params(), _accuracy(model, images, labels, batch_size)
    while params > budget:
        best = None
        for i, level in enumerate(levels):
            if level - step < step / 2:
                continue
            trial = levels[:i] + [level - step] + levels[i + 1 :]
            trial_params, trial_accuracy = evaluate(trial)
            saved = params - trial_params
            if saved <= 0:
                continue
            cost = (accuracy - trial_accuracy) / saved
            if best is None or cost < best[0]:
                best = (cost, trial, trial_params, trial_accuracy)
        if best is None:
            raise ValueError(
                f"No cut of `step`={step:g} is left and the model still has {params:,} parameters, over the "
                f"{budget:,} of keep={keep:g}. Fix: a smaller `step`."
            )
        _, levels, params, accuracy = best
    return fractions_of(levels)
