"""Sparsity training before the cut: network slimming's penalty.

Liu et al. (2017, "Learning Efficient Convolutional Networks through Network
Slimming") train with an L1 penalty on every BatchNorm scale, so that a
layer's unneeded channels are driven towards zero *before* they are cut and
the cut loses little; group lasso on each output filter (Wen et al. 2016,
"Learning Structured Sparsity in Deep Neural Networks") does the same for
layers without a BatchNorm. `sparsify` returns a copy of a trained model
carrying that penalty on the channels `prune_width` can cut; train the copy
for a few epochs (distilled from the original keeps its function), then cut
it with the matching importance:

```python
sparse = tfkd.pruning.sparsify(teacher, strength=1e-4)             # L1 on the BatchNorm scales
tfkd.Distiller(teacher, sparse, [tfkd.losses.SoftLabels()]).fit(...)  # or sparse.fit(...)
student = tfkd.prune_width(sparse, keep=0.5, importance="bn_scale")  # the penalty is not carried over
```

The penalty is an ordinary Keras weight regularizer (`ChannelSparsity`) in
the copy's layer configs, so it survives `save`/`load_model` and enters
`fit`'s loss (and the `Distiller`'s, through `student.losses`); the layers
`prune_width` and `prune_depth` build leave it out, so the cut student
trains without it.
"""

import math

import keras

from tfkd.pruning import nesting
from tfkd.pruning.channel_graph import PRODUCERS, SEPARABLE, ChannelGraph

PENALTIES = {"bn_scale": "the BatchNorm scales (L1)", "magnitude": "each output filter (group lasso)"}


@keras.saving.register_keras_serializable(package="tfkd")
class ChannelSparsity(keras.regularizers.Regularizer):
    """`strength · Σ_c ‖w[..., c]‖₂`: the sum over output channels of each
    channel's L2 norm.

    On a 1-D weight (a BatchNorm's gamma) this is the L1 norm, network
    slimming's penalty; on a kernel it is group lasso over output filters.
    The norm is `sqrt(Σ w² + 1e-12)`, differentiable at a zero filter.

    Args:
        strength: the penalty's weight, > 0 (network slimming: 1e-4 on VGG,
            1e-5 on ResNet and DenseNet, trained from scratch on CIFAR).

    Raises:
        ValueError: for a strength that is not a finite number > 0.

    Example:

    ```python
    penalty = tfkd.pruning.ChannelSparsity(1e-4)
    penalty(np.array([0.5, -2.0]))  # 1e-4 * 2.5
    ```
    """

    def __init__(self, strength=1e-4):
        ok = isinstance(strength, (int, float)) and not isinstance(strength, bool) and math.isfinite(strength)
        if not ok or strength <= 0:
            raise ValueError(
                f"ChannelSparsity's `strength` must be a finite number > 0, got {strength!r}. Fix: pass e.g. 1e-4."
            )
        self.strength = float(strength)

    def __call__(self, x):
        """The penalty of weight `x` (its last axis: output channels)."""
        x = keras.ops.cast(x, "float32")
        if len(x.shape) == 1:
            return self.strength * keras.ops.sum(keras.ops.abs(x))
        rows = keras.ops.reshape(x, (-1, x.shape[-1]))
        return self.strength * keras.ops.sum(keras.ops.sqrt(keras.ops.sum(keras.ops.square(rows), axis=0) + 1e-12))

    def get_config(self):
        """`{"strength": ...}`, for `from_config` and saved models."""
        return {"strength": self.strength}


def _is_sparsity(value):
    """Whether a layer-config entry is a serialized `ChannelSparsity`."""
    if isinstance(value, ChannelSparsity):
        return True
    return isinstance(value, dict) and value.get("registered_name") in ("tfkd>ChannelSparsity", "ChannelSparsity")


def without_sparsity(config):
    """A layer config with every `ChannelSparsity` regularizer set to None
    (what the cut layers are built from).

    Args:
        config: a layer's `get_config()` dict.

    Returns:
        A new dict (other regularizers are kept).
    """
    return {k: None if k.endswith("_regularizer") and _is_sparsity(v) else v for k, v in config.items()}


def _targets(graph, importance, exclude):
    """Flat names of the layers to penalize, and the attribute to set on each."""
    excluded = {graph.inlined.flat_name(name) for name in exclude}
    prunable = {
        graph.find(g)
        for g in graph.roots()
        if not graph.is_frozen(g) and graph.producers.get(g) and not excluded & set(graph.producers[g])
    }
    targets = {}
    for node in graph.nodes:
        layer = node.operation
        if layer.name in graph.skipped:
            continue
        if importance == "bn_scale" and isinstance(layer, keras.layers.BatchNormalization) and layer.scale:
            layout = graph.layout.get(id(node.input_tensors[0]))
            if layout and layout.positions == 1 and all(graph.find(s.group) in prunable for s in layout.segments):
                targets[layer.name] = "gamma_regularizer"
        elif importance == "magnitude" and isinstance(layer, PRODUCERS + SEPARABLE):
            layout = graph.layout.get(id(node.output_tensors[0]))
            if layout and graph.find(layout.segments[0].group) in prunable:
                targets[layer.name] = "pointwise_regularizer" if isinstance(layer, SEPARABLE) else "kernel_regularizer"
    return targets


def sparsify(model, strength=1e-4, importance="bn_scale", exclude=()):
    """A copy of `model` (same weights) whose prunable channels carry a
    sparsity penalty, for training before `prune_width`.

    Args:
        model: a built functional `keras.Model` (left untouched).
        strength: the penalty's weight, > 0 (`ChannelSparsity`).
        importance: what is penalized, as `prune_width` will rank it:
            `"bn_scale"` (L1 on the gamma of every BatchNorm that carries only
            prunable channels; network slimming) or `"magnitude"` (group lasso
            on the output filters of every prunable Conv/Dense).
        exclude: layer names (paths inside nested models) whose tied groups
            are not penalized, e.g. layers you will keep whole.

    Returns:
        A new functional `keras.Model` with `model`'s weights; `losses` holds
        the penalty. Nested functional models are copied with it.

    Raises:
        ValueError: before any work, for a subclassed model, a bad
            `strength`, an `importance` with no weight to penalize
            (`"activation"`), unknown names in `exclude`, or a model with
            nothing to penalize.

    Example:

    ```python
    sparse = tfkd.pruning.sparsify(teacher, 1e-4)
    sparse.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.fit(x_train, y_train, epochs=3)
    student = tfkd.prune_width(sparse, keep=0.5, importance="bn_scale")
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"sparsify expects a functional keras.Model, got {type(model).__name__}.")
    penalty = ChannelSparsity(strength)  # checks strength
    if importance not in PENALTIES:
        raise ValueError(
            f"sparsify penalizes {' or '.join(repr(k) for k in PENALTIES)}, got importance={importance!r}. "
            "Fix: importance='bn_scale' (an activation's size follows its BatchNorm's scale)."
        )
    graph = ChannelGraph(model)  # refuses a subclassed model
    every = {n.operation.name for n in graph.nodes}
    unknown = sorted(name for name in exclude if graph.inlined.flat_name(name) not in every)
    if unknown:
        raise ValueError(f"`exclude` names layers the model does not have: {unknown}. Fix: use names from summary().")
    producers = {p for g in graph.roots() if not graph.is_frozen(g) for p in graph.producers.get(g, ())}
    not_prunable = sorted(name for name in exclude if graph.inlined.flat_name(name) not in producers)
    if not_prunable:
        raise ValueError(
            f"`exclude` names layers whose channels cannot be pruned: {not_prunable}. Fix: name Conv/Dense layers "
            "from tfkd.pruning.prunable_groups(model)."
        )
    targets = _targets(graph, importance, exclude)
    if not targets:
        raise ValueError(
            f"sparsify found nothing to penalize by {importance!r}: no prunable channels reach "
            f"{PENALTIES[importance]}. Fix: importance='magnitude', or check prune_report(model, model)."
        )
    flat_names = graph.inlined.flat_names

    def clone(layer):
        config = layer.get_config()
        attribute = targets.get(flat_names.get(id(layer)))
        if attribute:
            config[attribute] = keras.regularizers.serialize(penalty)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return nesting.trainable_copy(model, copy)
