"""CIFAR models of the published distillation benchmarks (RepDistiller's
table): ResNet-{8,32}x4 and Wide ResNet-{16,40}-2, for 32×32 inputs, and He et
al.'s ResNet-14/20 (also at 28×28, the residual teachers of the pruning recipes).

Taps: `block1..3` are the stage outputs (`block4` too for x4 ResNets), `embed`
the pooled features, `logits` the float32 output.
"""

import keras


def _bn_relu(x, name):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _basic_block(x, filters, strides, name):
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides, "same", use_bias=False, name=f"{name}_conv1")(x)
    y = _bn_relu(y, f"{name}_1")
    y = keras.layers.Conv2D(filters, 3, 1, "same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_2_bn")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides, use_bias=False, name=f"{name}_proj")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    return keras.layers.ReLU(name=name)(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


def resnet(depth, widths=(16, 16, 32, 64), input_shape=(32, 32, 3), num_classes=10, name=None):
    """CIFAR ResNet (He et al. 2016, section 4.2): a 3×3 stem and three stages
    of basic residual blocks, the second and third starting with stride 2.

    Depth 20 with the default widths is He et al.'s ResNet-20 (0.27M
    parameters); depth 14 has two blocks per stage.

    Args:
        depth: 6n + 2 (n blocks per stage: 8 -> 1, 14 -> 2, 20 -> 3, 32 -> 5).
        widths: filters of the stem and of the three stages.
        input_shape: defaults to (32, 32, 3).
        num_classes: defaults to 10.
        name: the model's name. Defaults to `resnet<depth>`.

    Returns:
        A functional `keras.Model` whose blocks are `stage<s>_block<b>`
        (residual blocks `tfkd.prune_depth` can drop when their shapes allow).

    Raises:
        ValueError: if depth is not 6n + 2 or `widths` does not have 4 entries.

    Example:
        >>> teacher = resnet(20, input_shape=(28, 28, 1))
    """
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"ResNet depth must be 6n + 2 (8, 14, 20, 32, ...), got {depth}.")
    if len(widths) != 4:
        raise ValueError(f"widths must hold 4 filter counts (stem and three stages), got {widths!r}.")
    n = (depth - 2) // 6
    i = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(widths[0], 3, padding="same", use_bias=False, name="stem_conv")(i)
    x = _bn_relu(x, "stem")
    for stage, filters in enumerate(widths[1:], start=1):
        for b in range(n):
            strides = 2 if stage > 1 and b == 0 else 1
            x = _basic_block(x, filters, strides, f"stage{stage}_block{b}")
        x = keras.layers.Identity(name=f"block{stage}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="embed")(x)
    o = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(i, o, name=name or f"resnet{depth}")


def resnet_x4(depth, input_shape=(32, 32, 3), num_classes=100, name=None):
    """CIFAR ResNet with 4× widths (32, 64, 128, 256): depth 8 or 32
    (RepDistiller's ResNet-8x4 and ResNet-32x4).

    Args:
        depth: 6n + 2 (8 -> 1 block per stage, 32 -> 5).
        input_shape: defaults to (32, 32, 3).
        num_classes: defaults to 100.
        name: the model's name. Defaults to `resnet<depth>x4`.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: if depth is not 6n + 2.
    """
    return resnet(depth, (32, 64, 128, 256), input_shape, num_classes, name or f"resnet{depth}x4")


def _wide_block(x, filters, strides, name):
    y = _bn_relu(x, f"{name}_pre")
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides, use_bias=False, name=f"{name}_proj")(y)
    y = keras.layers.Conv2D(filters, 3, strides, "same", use_bias=False, name=f"{name}_conv1")(y)
    y = _bn_relu(y, f"{name}_mid")
    y = keras.layers.Conv2D(filters, 3, 1, "same", use_bias=False, name=f"{name}_conv2")(y)
    return keras.layers.Add(name=name)([y, shortcut])


def wide_resnet(depth, widen, input_shape=(32, 32, 3), num_classes=100, name=None):
    """Wide ResNet WRN-depth-widen (Zagoruyko & Komodakis 2016), pre-activation.

    Args:
        depth: 6n + 4 (16 -> 2 blocks per stage, 40 -> 6).
        widen: width factor k (stages of 16k, 32k, 64k filters).
        input_shape: defaults to (32, 32, 3).
        num_classes: defaults to 100.
        name: the model's name. Defaults to `wrn_<depth>_<widen>`.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: if depth is not 6n + 4.
    """
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4, got {depth}.")
    n = (depth - 4) // 6
    i = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem_conv")(i)
    for stage, filters in enumerate((16 * widen, 32 * widen, 64 * widen), start=1):
        for b in range(n):
            x = _wide_block(x, filters, 2 if stage > 1 and b == 0 else 1, f"stage{stage}_block{b}")
        x = keras.layers.Identity(name=f"block{stage}")(x)
    x = _bn_relu(x, "final")
    x = keras.layers.GlobalAveragePooling2D(name="embed")(x)
    o = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(i, o, name=name or f"wrn_{depth}_{widen}")
