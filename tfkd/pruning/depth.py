"""Structured depth pruning: drop whole residual blocks."""

import keras
import numpy as np

from tfkd.pruning import importance as importance_lib
from tfkd.pruning import nesting
from tfkd.pruning.sparsity import without_sparsity
from tfkd.pruning.surgery import replay
from tfkd.taps import _graph, _nodes


def _ancestors(tensor):
    """Ids of every symbolic tensor `tensor` is computed from (itself included)."""
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        history = t._keras_history
        node = history.operation._inbound_nodes[history.node_index]
        stack.extend(node.input_tensors)
    return seen


def _blocks(flat):
    """`{flat Add name: (node, skip index)}` of a flat functional graph."""
    blocks = {}
    for node in _nodes(flat):
        layer = node.operation
        if not isinstance(layer, keras.layers.Add) or len(node.input_tensors) != 2:
            continue
        a, b = node.input_tensors
        if tuple(a.shape) != tuple(b.shape):
            continue
        if id(a) in _ancestors(b):
            blocks[layer.name] = (node, 0)
        elif id(b) in _ancestors(a):
            blocks[layer.name] = (node, 1)
    return blocks


def residual_blocks(model):
    """The droppable residual blocks of a functional model.

    A block is an `Add` of two tensors where one (the skip) is an ancestor
    of the other (the branch): `y = x + f(x)`. Dropping it replaces `y` by
    `x`; a block whose shortcut is itself computed (a projection) is not
    droppable, since `x` may not have `y`'s shape. Blocks inside nested
    functional models count too, named by their path (`"backbone/add_3"`).

    Args:
        model: a built functional `keras.Model`.

    Returns:
        `{add layer name: index of the skip input}`, in graph order.

    Raises:
        ValueError: for a subclassed model.
    """
    inlined = nesting.inline(_graph(model, "model"))
    return {inlined.paths[name]: skip for name, (_, skip) in _blocks(_graph(inlined.model, "model")).items()}


def _copy(layer):
    return layer.__class__.from_config(without_sparsity(layer.get_config()))


def _drop_flat(inlined, names):
    """The flat model of `inlined` without the blocks `names` (paths or flat
    names), and `{flat Add name: skip index}` of the blocks dropped.
    """
    flat = _graph(inlined.model, "model")
    blocks = _blocks(flat)
    chosen = {n: inlined.flat_name(n) for n in names}
    unknown = sorted(n for n, flat_name in chosen.items() if flat_name not in blocks)
    if unknown:
        raise ValueError(
            f"Not droppable residual blocks: {unknown}. A block is an Add(x, f(x)) with an identity shortcut; "
            f"this model has {[inlined.paths[n] for n in blocks]}. Fix: name some of these (or pass drop=N)."
        )
    new, calls = replay(flat, _nodes(flat), _copy, {id(blocks[n][0]): blocks[n][1] for n in chosen.values()})
    kept = {id(layer) for layer in new._flatten_layers(include_self=False)}
    for layer, clone, _ in calls:
        if id(clone) in kept and layer.get_weights():
            clone.set_weights(layer.get_weights())
    return new, {n: blocks[n][1] for n in chosen.values()}


def drop_blocks(model, names):
    """A new model without the residual blocks ending in the `Add` layers
    `names` (their branches removed, the skips kept), with the other
    layers' weights copied; nested models keep their nesting.

    Raises:
        ValueError: for a name that is not a droppable block.
    """
    inlined = nesting.inline(_graph(model, "model"))
    new, bypass = _drop_flat(inlined, names)
    return nesting.trainable_copy(model, nesting.renest(model, inlined, new, bypass))


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def block_scores(model, images, blocks=None):
    """How much the model's logits change when each block alone is dropped:
    the mean KL divergence of softmax(logits) from the original's, on
    `images`.
    """
    blocks = list(blocks or residual_blocks(model))
    reference = _log_softmax(np.asarray(model.predict(images, verbose=0), np.float64))
    p = np.exp(reference)
    # One opened-up graph serves every candidate: scoring needs no re-nesting.
    inlined = nesting.inline(_graph(model, "model"))
    scores = {}
    for name in blocks:
        logits = np.asarray(_drop_flat(inlined, [name])[0].predict(images, verbose=0), np.float64)
        scores[name] = float(np.mean(np.sum(p * (reference - _log_softmax(logits)), -1)))
    return scores


def prune_depth(model, drop=1, calibration_data=None):
    """A new model without the residual blocks that matter least.

    Each droppable block (`residual_blocks`: an `Add(x, f(x))` with an
    identity shortcut) is scored by how much dropping it alone changes the
    model's predictions on `calibration_data` (mean KL divergence of the
    softmax of the outputs; Minitron ranks depth the same way, by the
    change in the output), and the `drop` lowest are removed together.
    The remaining layers keep their weights; `model` is untouched.

    Args:
        model: a built functional `keras.Model` with residual blocks.
        drop: how many blocks to drop (a whole number >= 1), or a list of
            the `Add` layer names that end the blocks to drop.
        calibration_data: a few hundred training images (array, `(images,
            labels)` or a dataset of batches); needed when `drop` is a
            number.

    Returns:
        A new, built functional `keras.Model`.

    Raises:
        ValueError: before any work, for a subclassed model, a `drop` that
            is not a whole number >= 1 or exceeds the droppable blocks,
            unknown block names, or calibration data missing or of the
            wrong shape.

    Example:

    ```python
    shallower = tfkd.prune_depth(teacher, drop=2, calibration_data=x_train[:512])
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"prune_depth expects a functional keras.Model, got {type(model).__name__}.")
    blocks = residual_blocks(model)
    if isinstance(drop, (list, tuple)):
        return drop_blocks(model, list(drop))
    if isinstance(drop, bool) or not isinstance(drop, int) or drop < 1:
        raise ValueError(f"`drop` must be a whole number >= 1 or a list of block names, got {drop!r}.")
    if drop > len(blocks):
        raise ValueError(
            f"`drop={drop}` but the model has {len(blocks)} droppable residual blocks ({list(blocks)}). Fix: "
            "drop fewer."
        )
    if calibration_data is None:
        raise ValueError(
            "prune_depth ranks blocks by how much dropping each changes the outputs on calibration_data, but none "
            "was given. Fix: pass calibration_data=train_images[:512], or name the blocks: drop=['add_3', ...]."
        )
    images = importance_lib.calibration_images(calibration_data, tuple(model.inputs[0].shape[1:]))
    scores = block_scores(model, images, blocks)
    order = sorted(scores, key=lambda n: (scores[n], list(blocks).index(n)))
    return drop_blocks(model, order[:drop])
