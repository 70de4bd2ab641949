"""Re-estimating BatchNorm statistics after pruning."""

import keras

from tfkd.pruning.importance import calibration_images


def recalibrate_batchnorm(model, calibration_data, batch_size=128):
    """Re-estimates every BatchNormalization layer's moving mean and
    variance on `calibration_data`, in place.

    Pruning a layer's input channels changes the distribution of its
    outputs, so the next BatchNorm's stored statistics no longer fit and the
    pruned model, before any training, can be near chance. Running the
    calibration images through the model in training mode, with each
    BatchNorm's momentum set so its moving statistics become the average
    over the batches, fixes that without changing any trainable weight.
    Other layers run in training mode too (Dropout drops), as in training.

    Args:
        model: a built Keras model (changed in place).
        calibration_data: training images (array, `(images, labels)` or a
            dataset of batches); the first 512 are used.
        batch_size: images per forward pass.

    Returns:
        `model`.

    Raises:
        ValueError: for calibration data of the wrong shape.

    Example:

    ```python
    student = tfkd.prune_width(teacher, keep=0.5, calibration_data=x)
    tfkd.pruning.recalibrate_batchnorm(student, x)
    ```
    """
    images = calibration_images(calibration_data, tuple(model.inputs[0].shape[1:]))
    layers = [l for l in model._flatten_layers(include_self=False) if isinstance(l, keras.layers.BatchNormalization)]
    momenta = [l.momentum for l in layers]
    try:
        for i, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:
                # moving ← m·moving + (1 − m)·batch with m = i/(i+1): the running mean of the batches.
                layer.momentum = i / (i + 1)
            model(images[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return model
