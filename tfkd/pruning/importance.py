"""Per-channel importance of every channel group of a `ChannelGraph`."""

import keras
import numpy as np
import tensorflow as tf

from tfkd.pruning.channel_graph import PRODUCERS, SEPARABLE

METHODS = ("activation", "bn_scale", "magnitude")
CALIBRATION_EXAMPLES = 512


def calibration_images(data, input_shape, limit=CALIBRATION_EXAMPLES):
    """The first `limit` images of `data` as one float32 array.

    Args:
        data: an array of images, `(images, labels)`, or a `tf.data.Dataset`
            of batches (`images` or `(images, labels, ...)`).
        input_shape: the model's per-example input shape.
        limit: the most images used.

    Returns:
        A float32 array `(n, *input_shape)`.

    Raises:
        ValueError: for data of another shape, non-float images or no data.
    """
    if isinstance(data, tf.data.Dataset):
        parts, n = [], 0
        for batch in data:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            parts.append(np.asarray(x))
            n += len(parts[-1])
            if n >= limit:
                break
        if not parts:
            raise ValueError("calibration_data is an empty dataset. Fix: pass a few hundred training images.")
        x = np.concatenate(parts)
    else:
        x = np.asarray(data[0] if isinstance(data, (tuple, list)) else data)
    if x.ndim == len(input_shape) and tuple(x.shape) == tuple(input_shape):
        x = x[None]
    want = tuple(input_shape)
    if x.ndim != len(want) + 1 or any(w is not None and g != w for g, w in zip(x.shape[1:], want)):
        raise ValueError(
            f"calibration_data has images of shape {tuple(x.shape[1:])}, but the model takes {want}. Fix: pass "
            "training images of the model's input shape (an array, (images, labels) or a dataset of batches)."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"calibration_data is {x.dtype}, but the model takes float images. Fix: convert them, e.g. "
            "tfkd.data.to_float(images)."
        )
    if len(x) == 0:
        raise ValueError("calibration_data holds no images. Fix: pass a few hundred training images.")
    return x[:limit].astype(np.float32)


def _offsets(channels):
    """(group, offset, size) of each segment of a tensor's layout."""
    out, offset = [], 0
    for seg in channels.segments:
        out.append((seg.group, offset, seg.size))
        offset += seg.size
    return out


def magnitude(graph):
    """Per group: the L1 norm of each output filter, summed over the
    group's producing layers.
    """
    scores = {}
    for node in graph.nodes:
        layer = node.operation
        if not isinstance(layer, PRODUCERS + SEPARABLE):
            continue
        layout = graph.layout.get(id(node.output_tensors[0]))
        if layout is None or graph.skipped.get(layer.name):
            continue
        kernel = layer.pointwise_kernel if isinstance(layer, SEPARABLE) else layer.kernel
        k = np.abs(keras.ops.convert_to_numpy(kernel)).reshape(-1, kernel.shape[-1]).sum(0)
        for g, offset, size in _offsets(layout):
            root = graph.find(g)
            scores[root] = scores.get(root, 0.0) + k[offset : offset + size]
    return scores


def bn_scale(graph):
    """Per group: |gamma| of each BatchNormalization that carries it,
    summed (network slimming, Liu et al. 2017).
    """
    scores = {}
    for node in graph.nodes:
        layer = node.operation
        if not isinstance(layer, keras.layers.BatchNormalization) or not layer.scale:
            continue
        layout = graph.layout.get(id(node.input_tensors[0]))
        if layout is None or layer.name in graph.skipped:
            continue
        gamma = np.abs(keras.ops.convert_to_numpy(layer.gamma))
        for g, offset, size in _offsets(layout):
            root = graph.find(g)
            scores[root] = scores.get(root, 0.0) + gamma[offset : offset + size]
    return scores


def activation(graph, images, batch_size=128):
    """Per group: the mean absolute value of each channel over the batch and
    positions, on the calibration images, summed over every tensor that
    carries the group (its producers' outputs and everything they pass
    through, merges included; Minitron's activation importance).
    """
    tensors, layouts = [], []
    for node in graph.nodes:
        for y in node.output_tensors:
            layout = graph.layout.get(id(y))
            if layout is None or layout.positions != 1 or len(y.shape) < 2:
                continue
            if all(graph.is_frozen(s.group) for s in layout.segments):
                continue
            tensors.append(y)
            layouts.append(layout)
    if not tensors:
        return {}
    inputs = graph.model.inputs
    probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs, tensors)
    sums = [np.zeros(int(t.shape[-1])) for t in tensors]
    count = 0
    for start in range(0, len(images), batch_size):
        outs = probe(images[start : start + batch_size], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for i, o in enumerate(outs):
            a = np.abs(keras.ops.convert_to_numpy(o).astype(np.float64))
            sums[i] += a.reshape(-1, a.shape[-1]).mean(0) * len(o)
        count += len(outs[0])
    scores = {}
    for total, layout in zip(sums, layouts):
        mean = total / count
        for g, offset, size in _offsets(layout):
            root = graph.find(g)
            scores[root] = scores.get(root, 0.0) + mean[offset : offset + size]
    return scores
