"""Structured width pruning: a smaller student cut out of a trained model."""

import math

import keras
import numpy as np

from tfkd.pruning import importance as importance_lib
from tfkd.pruning import nesting, reconstruction
from tfkd.pruning.channel_graph import ChannelGraph
from tfkd.pruning.surgery import rebuild


def _check_fraction(value, where):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value <= 1
    if not ok:
        raise ValueError(
            f"{where} must be a fraction of channels to keep, in (0, 1], got {value!r}. Fix: pass e.g. keep=0.5."
        )
    return float(value)


def _fractions(graph, keep):
    """Group root -> fraction to keep, from a number or {layer name: fraction}
    (names as users give them: `"sub/layer"` inside a nested model).
    """
    roots = [g for g in graph.roots() if not graph.is_frozen(g) and graph.producers.get(g)]
    if not isinstance(keep, dict):
        fraction = _check_fraction(keep, "`keep`")
        return {g: fraction for g in roots}
    prunable = sorted({graph.display(p) for g in roots for p in graph.producers[g]})
    flat = {k: graph.inlined.flat_name(k) for k in keep}
    every = {n.operation.name for n in graph.nodes}
    unknown = sorted(k for k, name in flat.items() if name not in every)
    if unknown:
        raise ValueError(
            f"`keep` names layers the model does not have: {unknown}. Prunable layers: {prunable}. Fix: use "
            "their names (model.summary() lists them; 'sub/layer' for a layer inside a nested model)."
        )
    producers = {p for g in roots for p in graph.producers[g]}
    not_prunable = sorted(k for k, name in flat.items() if name not in producers)
    if not_prunable:
        raise ValueError(
            f"`keep` names layers whose channels cannot be pruned: {not_prunable} (not a Conv/Dense making "
            f"channels, or kept whole; prune_report says why). Prunable layers: {prunable}."
        )
    by_flat = {name: keep[k] for k, name in flat.items()}
    out = {}
    for g in roots:
        named = {_check_fraction(by_flat[p], f"keep[{graph.display(p)!r}]") for p in graph.producers[g] if p in by_flat}
        if len(named) > 1:
            tied = [graph.display(p) for p in graph.producers[g]]
            raise ValueError(
                f"`keep` gives the tied layers {tied} different fractions {sorted(named)}: their "
                "channels are added together, so they are pruned together. Fix: give them one fraction."
            )
        if named:
            out[g] = named.pop()
    return out


def prunable_groups(model):
    """The layers whose output channels `prune_width` can cut, by tied group.

    Layers of one group (e.g. the convolutions whose outputs a residual `Add`
    sums) are pruned together and take one fraction in a `keep` dict. A
    layer inside a nested model is named by its path, `"backbone/conv1"`.

    Args:
        model: a built functional `keras.Model`.

    Returns:
        A list of groups, each a sorted list of layer names, in graph order.

    Raises:
        ValueError: for a subclassed model.

    Example:

    ```python
    groups = tfkd.pruning.prunable_groups(teacher)  # [["conv1"], ["block1_conv", "stem_conv"], ...]
    keep = {name: 0.3 for group in groups for name in group}
    keep["embed"] = 1.0  # the penultimate Dense left whole
    student = tfkd.prune_width(teacher, keep, calibration_data=x_train[:512])
    ```
    """
    graph = ChannelGraph(model)
    roots = [g for g in graph.roots() if not graph.is_frozen(g) and graph.producers.get(g)]
    return [sorted(graph.display(p) for p in graph.producers[g]) for g in roots]


def _count(size, fraction, round_to):
    n = int(round(size * fraction / round_to)) * round_to
    return int(min(size, max(n, round_to, 1)))


def prune_width(model, keep=0.5, calibration_data=None, importance="activation", round_to=1, reconstruct=False):
    """A new model with fewer channels per layer, cut out of `model`.

    The channels of each group (a layer's output channels, tied across
    residual `Add`s and the like: see `tfkd.pruning.channel_graph`) are
    ranked by `importance` and the least important removed. The kept
    channels carry `model`'s weights: sliced kernels and biases, BatchNorm
    gamma, beta and moving statistics, depthwise kernels, and the next
    layer's input rows (for a `Flatten` → `Dense`, at every position). The
    model's output width never changes, and `model` is untouched. Nested
    functional and Sequential sub-models (a `keras.applications` backbone
    under a new head) are pruned through, and the result keeps the nesting.
    Layers it cannot prune (unknown types, shared layers, subclassed
    sub-models) are left whole with the channels that feed them;
    `prune_report` lists them.

    Args:
        model: a built functional `keras.Model` (e.g. a trained teacher).
        keep: the fraction of each group's channels to keep, in (0, 1], or
            `{layer_name: fraction}` for some layers (the others keep all;
            `"sub/layer"` names a layer inside a nested model).
        calibration_data: a few hundred training images (array, `(images,
            labels)` or a dataset of batches); needed for
            `importance="activation"` (the first 512 are used).
        importance: `"activation"` (mean |activation| over batch and
            positions, Minitron), `"bn_scale"` (|gamma| of the BatchNorm
            after the layer, network slimming; groups without one keep all
            channels) or `"magnitude"` (L1 norm of each filter).
        round_to: channel counts are rounded to a multiple of this (8 suits
            int8 kernels and GPUs). Defaults to 1.
        reconstruct: also re-fit, by least squares on `calibration_data`,
            each Conv2D/Dense whose input channels were cut so its outputs
            match `model`'s at the kept channels (channel pruning, He et al.
            2017; ThiNet): a far better model before any training, but on
            the shipped teacher a worse start for distillation than the
            sliced weights (docs/pruning.md). See
            `tfkd.pruning.reconstruction`. Defaults to False.

    Returns:
        A new, built functional `keras.Model`, ordinary in every way (fit,
        save, taps, Distiller, export_student).

    Raises:
        ValueError: before any work, for a subclassed model, `keep` outside
            (0, 1] or NaN, unknown or unprunable layer names, an unknown
            `importance`, a bad `round_to`, or calibration data missing or
            of the wrong shape (also for `reconstruct=True` without it).

    Example:

    ```python
    student = tfkd.prune_width(teacher, keep=0.5, calibration_data=x_train[:512])
    tfkd.prune_report(teacher, student)  # channels, parameters and MACs per layer
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"prune_width expects a functional keras.Model, got {type(model).__name__}.")
    if importance not in importance_lib.METHODS:
        raise ValueError(f"`importance` must be one of {list(importance_lib.METHODS)}, got {importance!r}.")
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise ValueError(f"`round_to` must be a whole number >= 1, got {round_to!r}.")
    if not isinstance(keep, dict):
        _check_fraction(keep, "`keep`")
    graph = ChannelGraph(model)  # refuses a subclassed model
    fractions = _fractions(graph, keep)
    if not isinstance(reconstruct, bool):
        raise ValueError(f"`reconstruct` must be True or False, got {reconstruct!r}.")
    if reconstruct and calibration_data is None:
        raise ValueError(
            "reconstruct=True re-fits the pruned layers on calibration_data, but none was given. Fix: pass "
            "calibration_data=train_images[:512]."
        )
    images = None
    if importance == "activation":
        if calibration_data is None:
            raise ValueError(
                "importance='activation' ranks channels by their activations on calibration_data, but none was "
                "given. Fix: pass calibration_data=train_images[:512], or importance='magnitude'."
            )
        images = importance_lib.calibration_images(calibration_data, tuple(model.inputs[0].shape[1:]))
    elif calibration_data is not None:
        images = importance_lib.calibration_images(calibration_data, tuple(model.inputs[0].shape[1:]))
    indices = {} if reconstruct else None
    pruned = cut(graph, fractions, rank(graph, importance, images), round_to, indices)
    if reconstruct:
        reconstruction.reconstruct(graph.model, pruned, indices, images)
    return nesting.trainable_copy(model, nesting.renest(model, graph.inlined, pruned))


def rank(graph, importance, images=None):
    """Each prunable group's per-channel scores (higher is kept first).

    Args:
        graph: the model's `ChannelGraph`.
        importance: one of `tfkd.pruning.importance.METHODS`.
        images: calibration images as from `calibration_images`, for
            `"activation"`.

    Returns:
        `{group root: float array of the group's size}`; `"bn_scale"` leaves
        out groups no BatchNorm carries.
    """
    if importance == "activation":
        return importance_lib.activation(graph, images)
    if importance == "bn_scale":
        return importance_lib.bn_scale(graph)
    return importance_lib.magnitude(graph)


def cut(graph, fractions, scores, round_to=1, indices=None):
    """The model of `graph` with each group cut to its fraction, keeping the
    highest-scoring channels (ties keep the lower index).

    Args:
        graph: the model's `ChannelGraph`.
        fractions: `{group root: fraction}` (`_fractions`' result).
        scores: `rank`'s result for the same graph.
        round_to: channel counts are rounded to a multiple of this.
        indices: an optional dict, filled as `surgery.rebuild` fills it.

    Returns:
        A new, built functional `keras.Model` (see `prune_width`).
    """
    kept = {}
    for g, fraction in fractions.items():
        if g not in scores:
            continue  # bn_scale: no BatchNorm carries the group
        size = graph.groups[g]
        n = _count(size, fraction, round_to)
        order = np.lexsort((np.arange(size), -np.asarray(scores[g], np.float64)))
        kept[g] = np.sort(order[:n])
    return rebuild(graph, kept, indices)
