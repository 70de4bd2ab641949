"""Weight surgery: a new functional model that keeps chosen channels of each
group, with the kept channels' weights copied from the original.
"""

import keras
import numpy as np

from tfkd.pruning.channel_graph import PRODUCERS, SEPARABLE
from tfkd.pruning.sparsity import without_sparsity


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
    `out_idx` kept (None: all).
    """
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


def replay(model, nodes, clone_layer, bypass=None):
    """Rebuilds `model`'s graph from fresh layers.

    Args:
        model: a functional `keras.Model`.
        nodes: its nodes in topological order.
        clone_layer: `layer -> new layer` (a copy of its config, changed as
            the caller needs).
        bypass: `{id(node): index}`: nodes replaced by their input
            `index` (a residual `Add` replaced by its skip input drops the
            block; the branch's layers then fall out of the new model).

    Returns:
        `(new model, [(layer, clone, node), ...])` for every replayed node.
    """
    bypass = bypass or {}
    tensors, calls, inputs = {}, [], []
    for x in model.inputs:
        y = keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name.split(":")[0])
        tensors[id(x)] = y
        inputs.append(y)
    for node in nodes:
        if id(node) in bypass:
            tensors[id(node.outputs[0])] = tensors[id(node.input_tensors[bypass[id(node)]])]
            continue
        if any(id(x) not in tensors for x in node.input_tensors):
            continue
        clone = clone_layer(node.operation)
        args, kwargs = node.arguments.fill_in(tensors)
        for x, y in zip(node.outputs, keras.tree.flatten(clone(*args, **kwargs))):
            tensors[id(x)] = y
        calls.append((node.operation, clone, node))
    outputs = [tensors[id(y)] for y in model.outputs]
    new = keras.Model(
        inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=model.name
    )
    return new, calls


def rebuild(graph, kept, indices=None):
    """A new model in which every group keeps only its `kept` channels.

    Args:
        graph: the original model's `ChannelGraph`.
        kept: group root -> sorted int array of kept channel indices (groups
            not in it keep all their channels).
        indices: an optional dict, filled with `{layer name: (input rows,
            output channels)}` of the original kept by each sliced layer
            (`None`: all), for `tfkd.pruning.reconstruction`.

    Returns:
        A new, built functional `keras.Model` with the original's layer
        names, types and settings, fewer channels, and the kept channels'
        weights (kernels, biases, BatchNorm statistics, depthwise kernels,
        the next layer's input rows).
    """
    full = lambda g: np.arange(graph.groups[g])
    chosen = lambda g: kept.get(graph.find(g), full(g))
    out_layouts = {n.operation.name: graph.layout.get(id(n.output_tensors[0])) for n in graph.nodes}

    def clone_layer(layer):
        config = without_sparsity(layer.get_config())  # sparsify's penalty stays with the model it trained
        if isinstance(layer, PRODUCERS + SEPARABLE) and layer.name not in graph.skipped:
            count = len(chosen(out_layouts[layer.name].segments[0].group))
            config["units" if isinstance(layer, keras.layers.Dense) else "filters"] = int(count)
        if isinstance(layer, keras.layers.Reshape) and layer.name not in graph.skipped:
            target = tuple(config["target_shape"])
            if target[-1] != -1:  # -1 infers the new width itself
                config["target_shape"] = target[:-1] + (len(kept_indices(out_layouts[layer.name], chosen)),)
        return layer.__class__.from_config(config)

    new, calls = replay(graph.model, graph.nodes, clone_layer)
    for layer, clone, node in calls:
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
        if np.array_equal(in_idx, np.arange(in_layout.width * in_layout.positions)):
            in_idx = None
        clone.set_weights(_sliced_weights(layer, weights, in_idx, out_idx))
        if indices is not None:
            indices[layer.name] = (in_idx, out_idx)
    return new
