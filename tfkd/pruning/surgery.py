"""Weight surgery: a new functional model that keeps chosen channels of each
group, with the kept channels' weights copied from the original."""

import keras
import numpy as np

from tfkd.pruning.channel_graph import PRODUCERS, SEPARABLE


def kept_indices(layout, kept):
    """Indices into a tensor's last axis that survive, given the kept
    channels of each group (`kept`: group root -> sorted indices).

    Args:
        layout: the tensor's `Channels`.
        kept: a callable, group id -> kept indices within the group.

    Returns:
        An int array; with `positions > 1` (after Flatten) the indices at
        every position, position-major as Flatten lays them out.
    """
    parts, offset = [], 0
    for seg in layout.segments:
        parts.append(offset + kept(seg.group))
        offset += seg.size
    idx = np.concatenate(parts) if parts else np.zeros(0, int)
    if layout.positions == 1:
        return idx
    return np.concatenate([p * offset + idx for p in range(layout.positions)])


def _sliced_weights(layer, weights, in_idx, out_idx):
    """The layer's weights with input rows `in_idx` and output channels
    `out_idx` kept (None: all)."""
    take = lambda w, axis, idx: w if idx is None else np.take(w, idx, axis=axis)
    if isinstance(layer, SEPARABLE):
        depthwise, pointwise, *bias = weights
        mult = depthwise.shape[-1]
        rows = None if in_idx is None else (in_idx[:, None] * mult + np.arange(mult)[None, :]).reshape(-1)
        out = [take(depthwise, -2, in_idx), take(take(pointwise, -2, rows), -1, out_idx)]
        return out + [take(b, 0, out_idx) for b in bias]
    if isinstance(layer, PRODUCERS):
        kernel, *bias = weights
        return [take(take(kernel, -2, in_idx), -1, out_idx)] + [take(b, 0, out_idx) for b in bias]
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        kernel, *bias = weights
        return [take(kernel, -2, in_idx)] + [take(b, 0, in_idx) for b in bias]
    if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
        return [take(w, 0, in_idx) for w in weights]
    return weights


def rebuild(graph, kept):
    """A new model in which every group keeps only its `kept` channels.

    Args:
        graph: the original model's `ChannelGraph`.
        kept: group root -> sorted int array of kept channel indices (groups
            not in it keep all their channels).

    Returns:
        A new, built functional `keras.Model` with the original's layer
        names, types and settings, fewer channels, and the kept channels'
        weights (kernels, biases, BatchNorm statistics, depthwise kernels,
        the next layer's input rows).
    """
    model = graph.model
    full = lambda g: np.arange(graph.groups[g])
    chosen = lambda g: kept.get(graph.find(g), full(g))
    tensors, layers = {}, []
    inputs = []
    for x in model.inputs:
        y = keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name.split(":")[0])
        tensors[id(x)] = y
        inputs.append(y)
    for node in graph.nodes:
        layer = node.operation
        config = layer.get_config()
        out_layout = graph.layout.get(id(node.output_tensors[0]))
        if isinstance(layer, PRODUCERS + SEPARABLE) and layer.name not in graph.skipped:
            count = len(chosen(out_layout.segments[0].group))
            config["units" if isinstance(layer, keras.layers.Dense) else "filters"] = int(count)
        clone = layer.__class__.from_config(config)
        args, kwargs = node.arguments.fill_in(tensors)
        outputs = clone(*args, **kwargs)
        for x, y in zip(node.outputs, keras.tree.flatten(outputs)):
            tensors[id(x)] = y
        layers.append((layer, clone, node))
    outputs = [tensors[id(y)] for y in model.outputs]
    new = keras.Model(
        inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=model.name
    )
    for layer, clone, node in layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if layer.name in graph.skipped:
            clone.set_weights(weights)
            continue
        in_layout = graph.layout[id(node.input_tensors[0])]
        out_layout = graph.layout.get(id(node.output_tensors[0]))
        in_idx = kept_indices(in_layout, chosen)
        out_idx = kept_indices(out_layout, chosen) if isinstance(layer, PRODUCERS + SEPARABLE) else None
        if len(in_idx) == in_layout.width * in_layout.positions:
            in_idx = None if np.array_equal(in_idx, np.arange(len(in_idx))) else in_idx
        clone.set_weights(_sliced_weights(layer, weights, in_idx, out_idx))
    return new
