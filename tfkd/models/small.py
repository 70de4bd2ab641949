"""Reference teacher and students for 28×28 (and 8×8) grayscale images.

Layer names are stable so distillation recipes can tap them: teachers use a
`t_` prefix, students `s_`; `*_block1/2/3` are conv feature maps, `*_embed`
the penultimate features, `*_logits` the float32 output.
"""

import keras


def _logits(x, classes, prefix):
    # float32 logits under any precision policy (Keras mixed-precision guide).
    return keras.layers.Dense(classes, dtype="float32", name=f"{prefix}_logits")(x)


def _conv_bn(x, filters, name, strides=1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # momentum 0.9: moving statistics keep up over short schedules.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def cnn_teacher(input_shape=(28, 28, 1), num_classes=10, width=32, name="cnn_teacher"):
    """A VGG-style CNN teacher: three conv blocks, dropout, dense head.

    157,610 parameters at the default width on 28×28×1.

    Args:
        input_shape: image shape. Defaults to (28, 28, 1).
        num_classes: number of classes. Defaults to 10.
        width: filters of the first block (doubled per block). Defaults to 32.
        name: model name.

    Returns:
        A functional `keras.Model` with taps `t_block1..3`, `t_embed`.
    """
    i = keras.Input(input_shape, name="image")
    x = _conv_bn(i, width, "t_block1a")
    x = _conv_bn(x, width, "t_block1")
    x = keras.layers.MaxPooling2D(name="t_pool1")(x)
    x = _conv_bn(x, 2 * width, "t_block2a")
    x = _conv_bn(x, 2 * width, "t_block2")
    x = keras.layers.MaxPooling2D(name="t_pool2")(x)
    x = _conv_bn(x, 4 * width, "t_block3")
    x = keras.layers.GlobalAveragePooling2D(name="t_gap")(x)
    x = keras.layers.Dropout(0.3, name="t_drop")(x)
    x = keras.layers.Dense(4 * width, activation="relu", name="t_embed")(x)
    return keras.Model(i, _logits(x, num_classes, "t"), name=name)


def cnn_student(input_shape=(28, 28, 1), num_classes=10, width=16, name="cnn_small"):
    """A small CNN student: two conv blocks and a dense head.

    7,706 parameters at the default width (20× fewer than the teacher).

    Args:
        input_shape: image shape. Defaults to (28, 28, 1).
        num_classes: number of classes. Defaults to 10.
        width: filters of the first block (doubled in the second). Defaults to 16.
        name: model name.

    Returns:
        A functional `keras.Model` with taps `s_block1`, `s_block2`, `s_embed`.
    """
    return _two_block_cnn(input_shape, num_classes, width, keras.layers.GlobalAveragePooling2D(name="s_gap"), name)


def cnn_flat_student(input_shape=(28, 28, 1), num_classes=10, width=16, name="cnn_flat"):
    """A LeNet-style CNN student: two conv blocks, a flattened dense head.

    106,010 parameters at the default width on 28×28×1 (1.5× fewer than the
    teacher, 20× fewer multiply-adds: 1.1M vs 22M). Unlike `cnn_small`'s
    global pooling, the dense head keeps where features are, so the student
    has capacity to spare: it overfits the hard labels, which is where soft
    labels help (Hinton et al. 2015).

    Args:
        input_shape: image shape. Defaults to (28, 28, 1).
        num_classes: number of classes. Defaults to 10.
        width: filters of the first block (doubled in the second). Defaults to 16.
        name: model name.

    Returns:
        A functional `keras.Model` with taps `s_block1`, `s_block2`, `s_embed`.
    """
    return _two_block_cnn(input_shape, num_classes, width, keras.layers.Flatten(name="s_flatten"), name)


def _two_block_cnn(input_shape, num_classes, width, reduce, name):
    i = keras.Input(input_shape, name="image")
    x = _conv_bn(i, width, "s_block1")
    x = keras.layers.MaxPooling2D(name="s_pool1")(x)
    x = _conv_bn(x, 2 * width, "s_block2")
    x = keras.layers.MaxPooling2D(name="s_pool2")(x)
    x = keras.layers.Dense(4 * width, activation="relu", name="s_embed")(reduce(x))
    return keras.Model(i, _logits(x, num_classes, "s"), name=name)


def mlp_student(input_shape=(28, 28, 1), num_classes=10, width=16, name="mlp_small"):
    """A two-hidden-layer MLP student (no convolutions).

    13,002 parameters at the default width on 28×28×1.

    Args:
        input_shape: image shape. Defaults to (28, 28, 1).
        num_classes: number of classes. Defaults to 10.
        width: units of both hidden layers. Defaults to 16.
        name: model name.

    Returns:
        A functional `keras.Model` with taps `s_hidden`, `s_embed`.
    """
    return _mlp(input_shape, num_classes, width, "s", 0.0, name)


def mlp_teacher(input_shape=(28, 28, 1), num_classes=10, width=512, name="mlp_teacher"):
    """A wide MLP teacher: a second teacher architecture for multi-teacher kd.

    669,706 parameters at the default width on 28×28×1.

    Args:
        input_shape: image shape. Defaults to (28, 28, 1).
        num_classes: number of classes. Defaults to 10.
        width: units of both hidden layers. Defaults to 512.
        name: model name.

    Returns:
        A functional `keras.Model` with taps `m_hidden`, `m_embed`.
    """
    return _mlp(input_shape, num_classes, width, "m", 0.2, name)


def _mlp(input_shape, num_classes, width, prefix, dropout, name):
    i = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(i)
    x = keras.layers.Dense(width, activation="relu", name=f"{prefix}_hidden")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{prefix}_drop")(x)
    x = keras.layers.Dense(width, activation="relu", name=f"{prefix}_embed")(x)
    return keras.Model(i, _logits(x, num_classes, prefix), name=name)
