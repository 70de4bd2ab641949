"""Least-squares reconstruction of the layers whose inputs were pruned.

Slicing a layer's input rows drops the contribution of the removed channels
to its output. Channel pruning (He et al. 2017, "Channel pruning for
accelerating very deep neural networks"; Luo et al. 2017, ThiNet) fixes that
before any training: layer by layer, in the order of the graph, the kept
weights are re-fitted so that the layer's output on calibration images,
computed from the *pruned* model's inputs (so each fit also absorbs the
error of the layers before it), matches the original layer's output at the
kept channels. Each fit is a ridge regression pulled toward the sliced
weights:

    W = argmin ||X W + b - Y||² + λ ||W - W_sliced||²,   λ = ridge · tr(XᵀX) / d

where X holds the layer's input patches (im2col for a convolution), Y the
original layer's pre-activation outputs at the kept channels, and d the
number of input rows; the bias is fitted without a penalty.
"""

import keras
import numpy as np
import tensorflow as tf


def _fittable(layer):
    """Conv2D with one group, channels last, and Dense on vectors are
    re-fitted; the other layers keep their sliced weights.
    """
    if isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.layers.Conv2DTranspose)):
        return False
    if isinstance(layer, keras.layers.Conv2D):
        return layer.groups == 1 and layer.data_format == "channels_last"
    return isinstance(layer, keras.layers.Dense) and len(layer.input.shape) == 2


def _rows(layer, x):
    """The layer's inputs as a matrix, one row per output position: im2col
    patches (kh, kw, channel order, as the kernel flattens) for a Conv2D.
    """
    if isinstance(layer, keras.layers.Dense):
        return x.reshape(len(x), -1)
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    dh, dw = layer.dilation_rate
    patches = tf.image.extract_patches(
        x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, dh, dw, 1], padding=layer.padding.upper()
    )
    return patches.numpy().reshape(-1, patches.shape[-1])


def _relative_error(w, a, b, yy):
    """||X w - Y|| / ||Y|| from the normal equations (a = XᵀX, b = XᵀY, yy = ||Y||²)."""
    return float(np.sqrt(max(np.sum(w * (a @ w)) - 2 * np.sum(w * b) + yy, 0.0) / max(yy, 1e-30)))


def _inputs(model):
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _teacher_inputs(original, names, images, batch_size):
    """`{layer name: that layer's input in `original` on `images`}`, from
    one pass of `original` (the student's inputs change as layers are
    re-fitted; the teacher's do not).
    """
    if not names:
        return {}
    probe = keras.Model(_inputs(original), [original.get_layer(n).input for n in names])
    parts = {n: [] for n in names}
    for start in range(0, len(images), batch_size):
        outs = probe(images[start : start + batch_size], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for n, out in zip(names, outs):
            parts[n].append(np.asarray(out))
    return {n: np.concatenate(p) for n, p in parts.items()}


def _kernel_matrix(kernel):
    """A kernel as (input rows, output channels), rows in `_rows`' order."""
    return kernel.reshape(-1, kernel.shape[-1])


def reconstruct(original, pruned, indices, images, ridge=1e-3, batch_size=64):
    """Re-fits, in place, the kept weights of each layer of `pruned` whose
    input rows were sliced, so its outputs match `original`'s.

    Args:
        original: the model `pruned` was cut from (not changed).
        pruned: the pruned model (changed in place).
        indices: `{layer name: (input rows, output channels)}` as filled by
            `tfkd.pruning.surgery.rebuild` (`None`: all kept).
        images: calibration images, a float32 array of the models' input
            shape.
        ridge: the pull toward the sliced weights, relative to the mean
            diagonal of XᵀX. Must be > 0.
        batch_size: images per forward pass.

    Returns:
        `{layer name: (relative output error before, after)}` on `images`,
        for each re-fitted layer.

    Raises:
        ValueError: for `ridge` <= 0 or not a number.

    Example:

    ```python
    indices = {}
    student = surgery.rebuild(graph, kept, indices)
    errors = reconstruct(teacher, student, indices, x_train[:512])
    ```
    """
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not ridge > 0:
        raise ValueError(f"`ridge` must be a number > 0, got {ridge!r}.")
    # In graph order; layers whose input rows all survive keep their exact sliced weights.
    fitted = [
        layer
        for layer in pruned.layers
        if layer.name in indices and indices[layer.name][0] is not None and _fittable(layer)
    ]
    teacher_inputs = _teacher_inputs(original, [layer.name for layer in fitted], images, batch_size)
    errors = {}
    for layer in fitted:
        out_idx = indices[layer.name][1]
        source = original.get_layer(layer.name)
        student_in = keras.Model(_inputs(pruned), layer.input)
        kernel_t = _kernel_matrix(source.kernel.numpy().astype(np.float64))[:, out_idx]
        bias_t = source.bias.numpy()[out_idx].astype(np.float64) if source.use_bias else 0.0
        kernel_s = layer.kernel.numpy()
        w0 = _kernel_matrix(kernel_s.astype(np.float64))
        d = w0.shape[0]
        # Normal equations of [X, 1] against Y, accumulated over batches.
        a = np.zeros((d + 1, d + 1))
        b = np.zeros((d + 1, w0.shape[1]))
        yy = 0.0
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            x = _rows(layer, np.asarray(student_in(batch), np.float64))
            y = _rows(source, teacher_inputs[layer.name][start : start + batch_size].astype(np.float64))
            y = y @ kernel_t + bias_t
            x1 = np.concatenate([x, np.ones((len(x), 1))], axis=1)
            a += x1.T @ x1
            b += x1.T @ y
            yy += float(np.sum(y * y))
        k = d + 1 if layer.use_bias else d  # the bias, when there is one, is fitted too
        a, b = a[:k, :k], b[:k]
        w_before = w0
        if layer.use_bias:
            w_before = np.concatenate([w0, layer.bias.numpy().astype(np.float64)[None]], axis=0)
        lam = ridge * np.trace(a[:d, :d]) / d
        penalty = np.diag(np.r_[np.full(d, lam), np.zeros(k - d)])
        w = np.linalg.solve(a + penalty, b + penalty @ w_before)
        errors[layer.name] = (_relative_error(w_before, a, b, yy), _relative_error(w, a, b, yy))
        new = [w[:d].reshape(kernel_s.shape).astype(kernel_s.dtype)]
        if layer.use_bias:
            new.append(w[d].astype(kernel_s.dtype))
        layer.set_weights(new + layer.get_weights()[len(new) :])
    return errors
