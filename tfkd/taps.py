"""Taps: named intermediate outputs of a Keras model, as one functional sub-model.

A tap is addressed by a *path*: the Keras layer name, or a path through nested
models separated by ``/`` (``"backbone/conv2_block1_out"``). A layer that is
called more than once in the graph, or has several outputs, is chosen with an
index (``"dense_1:1"``). `build_tap_model` turns a model and a set of paths into
one functional model, built once, returning a dict with the model's output
(key `OUTPUT`), its pre-softmax logits (key `LOGITS`) and every tapped tensor.
The sub-model shares the original layers and weights, so training it trains
the original model.

Example:

```python
taps = build_tap_model(student, ["s_block1"], role="student")
out = taps(images, training=True)
out[LOGITS], out["s_block1"]
```
"""

import difflib

import keras
from keras import tree

OUTPUT = "__output__"
LOGITS = "__logits__"


def _graph(model, role):
    """Returns the functional graph behind `model`, or raises a clear error."""
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError(
                f"The {role} `{model.name}` is a Sequential model without a "
                "known input shape, so its layers have no symbolic outputs to "
                "tap. Expected: a built model. Fix: start it with "
                "`keras.Input(shape=...)`, or call it once on data before "
                "passing it to tfkd."
            )
        return graph
    if hasattr(model, "_nodes_by_depth") and getattr(model, "inputs", None):
        return model
    raise ValueError(
        f"The {role} `{model.name}` is a subclassed keras.Model "
        f"({type(model).__name__}); tfkd cannot tap its layers because a "
        "subclassed model has no symbolic graph. Expected: a Functional or "
        "Sequential model. Fix: build it with the functional API "
        "(`keras.Model(inputs, outputs)`), or wrap a functional backbone and "
        "tap through it with a path such as `'backbone/layer_name'`."
    )


def _nodes(graph):
    """The graph's call nodes in execution order, inputs excluded."""
    nodes = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                nodes.append(node)
    return nodes


def _split(path):
    """`"a/b:1"` -> (["a", "b"], 1); `"a"` -> (["a"], None)."""
    if not isinstance(path, str) or not path:
        raise ValueError(
            f"A tap path must be a non-empty string, got {path!r}. Example: 'block2' or 'backbone/block2:1'."
        )
    parts = path.split("/")
    index = None
    last = parts[-1]
    if ":" in last:
        name, _, idx = last.rpartition(":")
        if not idx.isdigit():
            raise ValueError(
                f"Invalid tap path {path!r}: the part after ':' must be a "
                "whole number choosing among a layer's outputs, e.g. 'dense:1'."
            )
        parts[-1], index = name, int(idx)
    return parts, index


def _layer_names(graph):
    names = []
    for node in _nodes(graph):
        if node.operation.name not in names:
            names.append(node.operation.name)
    return names


def _nested_paths(graph, name, prefix=""):
    """Paths `"sub/.../name"` of layers called `name` inside nested functional models."""
    found = []
    for layer_name in _layer_names(graph):
        layer = next(n.operation for n in _nodes(graph) if n.operation.name == layer_name)
        if isinstance(layer, keras.Model) and getattr(layer, "_nodes_by_depth", None) is not None:
            inner = f"{prefix}{layer_name}/"
            if name in _layer_names(layer):
                found.append(inner + name)
            found.extend(_nested_paths(layer, name, inner))
    return found


def _unknown_layer_error(graph, name, path, role):
    nested = _nested_paths(graph, name)
    if nested:
        return ValueError(
            f"The {role} model `{graph.name}` has no layer named {name!r} at its top level (tap path {path!r}), "
            f"but a nested model has: {nested}. Fix: tap it by its path through the nested model, e.g. "
            f"{nested[0]!r}."
        )
    names = _layer_names(graph)
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = close or names[:10]
    return ValueError(
        f"The {role} model `{graph.name}` has no layer named {name!r} "
        f"(tap path {path!r}). Closest layer names: {hint}. "
        "Fix: use one of these, or `tfkd.list_taps(model)` to print every "
        "tappable path with its shape."
    )


def _choices(graph, name):
    """Every (node, tensor) produced by layer `name` in this graph, in order."""
    out = []
    for node in _nodes(graph):
        if node.operation.name == name:
            out.extend((node, tensor) for tensor in node.outputs)
    return out


def _pick(graph, name, index, path, role):
    choices = _choices(graph, name)
    if not choices:
        raise _unknown_layer_error(graph, name, path, role)
    labels = [f"{name}:{i} {tuple(t.shape)}" for i, (_, t) in enumerate(choices)]
    if index is None and len(choices) > 1:
        raise ValueError(
            f"Tap path {path!r} in the {role} model `{graph.name}` is "
            f"ambiguous: layer {name!r} has {len(choices)} outputs in the "
            f"graph. Choices: {labels}. Fix: add the index, e.g. '{name}:1'."
        )
    index = index or 0
    if index >= len(choices):
        raise ValueError(
            f"Tap path {path!r}: layer {name!r} has only {len(choices)} "
            f"output(s) in the {role} model `{graph.name}`. Choices: {labels}."
        )
    return choices[index]


def _nested_graph(graph, name, path, role):
    matches = [n.operation for n in _nodes(graph) if n.operation.name == name]
    if not matches:
        raise _unknown_layer_error(graph, name, path, role)
    layer = matches[0]
    if not isinstance(layer, keras.Model):
        raise ValueError(
            f"Tap path {path!r}: {name!r} in the {role} model `{graph.name}` "
            f"is a {type(layer).__name__} layer, not a nested model, so the "
            "path cannot go inside it. Fix: tap the layer itself."
        )
    if len(matches) > 1:
        raise ValueError(
            f"Tap path {path!r}: the nested model {name!r} is called "
            f"{len(matches)} times in `{graph.name}`; tapping inside a shared "
            "sub-model is ambiguous. Fix: tap its outputs in the outer model."
        )
    return layer, _graph(layer, f"{role} sub-model")


def _resolve(graph, paths, role):
    """Resolves `paths` on `graph`.

    Returns:
        (inputs, outputs, taps): the graph's inputs, its outputs and a dict
        path -> tensor, all in one connected symbolic graph.
    """
    direct, nested = {}, {}
    for path in paths:
        parts, index = _split(path)
        if len(parts) == 1:
            direct[path] = (parts[0], index)
        else:
            rest = "/".join(parts[1:]) + ("" if index is None else f":{index}")
            nested.setdefault(parts[0], []).append((path, rest))

    if not nested:
        taps = {path: _pick(graph, name, index, path, role)[1] for path, (name, index) in direct.items()}
        return graph.inputs, graph.outputs, taps

    # Nested paths: replay the outer graph, calling a tapped copy of each
    # nested model (same layers, extra outputs) in place of the original.
    substitutes = {}
    for name, items in nested.items():
        layer, sub_graph = _nested_graph(graph, name, items[0][0], role)
        sub_in, sub_out, sub_taps = _resolve(sub_graph, [rest for _, rest in items], role)
        sub_model = keras.Model(
            sub_in,
            {OUTPUT: sub_out, **{p: sub_taps[r] for p, r in items}},
            name=f"{layer.name}_tapped",
        )
        substitutes[id(layer)] = sub_model
    for path, (name, index) in direct.items():
        _pick(graph, name, index, path, role)  # validate before replaying

    inputs = [keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name.split(":")[0]) for x in graph.inputs]
    tensors = {id(x): y for x, y in zip(graph.inputs, inputs)}
    taps = {}
    for node in _nodes(graph):
        if any(id(x) not in tensors for x in node.input_tensors):
            continue
        args, kwargs = node.arguments.fill_in(tensors)
        sub_model = substitutes.get(id(node.operation))
        if sub_model is None:
            outputs = node.operation(*args, **kwargs)
        else:
            result = sub_model(*args, **kwargs)
            outputs = result[OUTPUT]
            taps.update({k: v for k, v in result.items() if k != OUTPUT})
        for x, y in zip(node.outputs, tree.flatten(outputs)):
            tensors[id(x)] = y
    for path, (name, index) in direct.items():
        taps[path] = tensors[id(_pick(graph, name, index, path, role)[1])]
    outputs = [tensors[id(x)] for x in graph.outputs]
    return inputs, outputs, taps


class _PreActivation(keras.layers.Layer):
    """Calls a layer with its activation switched off, sharing its weights.

    Used to read the logits of an output layer that ends in a softmax, so the
    soft-label loss never takes the log of (clipped) probabilities.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_logits", dtype=layer.dtype_policy, **kwargs)
        self._wrapped = [layer]

    def call(self, inputs):
        layer = self._wrapped[0]
        activation = layer.activation
        layer.activation = keras.activations.linear
        try:
            return layer.call(inputs)
        finally:
            layer.activation = activation


def _is_softmax(fn):
    return fn is keras.activations.softmax or getattr(fn, "__name__", "") == ("softmax")


def _logits_and_output(output):
    """Splits a symbolic model output into (logits, output-from-logits)."""
    layer = output._keras_history.operation
    node = layer._inbound_nodes[output._keras_history.node_index]
    if isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and _is_softmax(layer.activation)
    ):
        return node.input_tensors[0], output
    if _is_softmax(getattr(layer, "activation", None)) and len(node.input_tensors) == 1:
        logits = _PreActivation(layer)(node.input_tensors[0])
        probs = keras.layers.Activation("softmax", dtype=layer.dtype_policy, name=f"{layer.name}_softmax")(logits)
        return logits, probs
    return output, output


def penultimate_path(model, role="model"):
    """The tap path of the features that feed the model's logits layer.

    For `... -> GlobalAveragePooling2D -> Dense(classes)` it is the pooling
    layer's name (the pooled features); a softmax after the logits is
    looked through.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        role: word used in error messages.

    Returns:
        A tap path (`"name"`, or `"name:i"` for a layer called twice).

    Raises:
        ValueError: for a subclassed model, several outputs, or a logits
            layer fed directly by the model's input.

    Example:

    ```python
    penultimate_path(tfkd.models.get("cnn_teacher"))  # 't_drop'
    ```
    """
    graph = _graph(model, role)
    history = graph.outputs[0]._keras_history
    layer = history.operation
    node = layer._inbound_nodes[history.node_index]
    if isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and _is_softmax(layer.activation)
    ):
        history = node.input_tensors[0]._keras_history
        layer = history.operation
        node = layer._inbound_nodes[history.node_index]
    if len(graph.outputs) != 1 or len(node.input_tensors) != 1:
        raise ValueError(
            f"Cannot tell the penultimate features of the {role} `{model.name}`: its output layer "
            f"{layer.name!r} does not take exactly one input. Fix: give the layer path explicitly."
        )
    feature = node.input_tensors[0]
    producer = feature._keras_history.operation
    if any(feature is x for x in graph.inputs) or isinstance(producer, keras.layers.InputLayer):
        raise ValueError(
            f"The {role} `{model.name}` computes its logits from its input directly: it has no penultimate "
            "features. Fix: give the layer path explicitly."
        )
    choices = _choices(graph, producer.name)
    index = next(i for i, (_, t) in enumerate(choices) if t is feature)
    return producer.name + (f":{index}" if len(choices) > 1 else "")


def build_tap_model(model, paths=(), role="model"):
    """Builds one functional sub-model returning the model's output and taps.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        paths: iterable of tap paths (see the module docstring).
        role: word used in error messages, e.g. `"teacher"`.

    Returns:
        A `keras.Model` sharing `model`'s layers whose output is a dict with
        keys `OUTPUT` (the model's own output), `LOGITS` (its pre-softmax
        logits, or the output itself when it has no softmax) and each path.

    Raises:
        ValueError: for a subclassed or unbuilt model, an unknown or ambiguous
            layer name (the message lists the closest names), or a path into
            a layer that is not a model.

    Example:

    ```python
    taps = build_tap_model(teacher, ["t_block2"], role="teacher")
    features = taps(images, training=False)["t_block2"]
    ```
    """
    graph = _graph(model, role)
    paths = list(dict.fromkeys(paths))
    inputs, outputs, taps = _resolve(graph, paths, role)
    if len(outputs) != 1:
        raise ValueError(
            f"The {role} `{model.name}` has {len(outputs)} outputs; tfkd "
            "distils single-output classifiers. Fix: wrap the model so it "
            "returns one logits tensor."
        )
    logits, output = _logits_and_output(outputs[0])
    if len(inputs) == 1:
        inputs = inputs[0]
    return keras.Model(inputs, {OUTPUT: output, LOGITS: logits, **taps}, name=f"{model.name}_taps")


def list_taps(model, print_fn=print, _prefix="", _rows=None):
    """Prints and returns every tappable path of a model with its shape.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        print_fn: called with each line; `None` prints nothing.
            Defaults to `print`.

    Returns:
        A list of `(path, shape)` tuples, nested models included.

    Raises:
        ValueError: if the model is subclassed or not built.

    Example:

    ```python
    tfkd.list_taps(teacher)  # t_conv1 (None, 28, 28, 32) ...
    ```
    """
    rows = [] if _rows is None else _rows
    graph = _graph(model, "model")
    for name in _layer_names(graph):
        choices = _choices(graph, name)
        for i, (_node, tensor) in enumerate(choices):
            path = _prefix + name + (f":{i}" if len(choices) > 1 else "")
            rows.append((path, tuple(tensor.shape)))
            if print_fn:
                print_fn(f"{path} {tuple(tensor.shape)}")
        layer = choices[0][0].operation
        if isinstance(layer, keras.Model) and len(choices) == 1:
            list_taps(layer, print_fn, _prefix + name + "/", rows)
    return rows
