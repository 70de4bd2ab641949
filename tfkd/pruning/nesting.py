"""Nested functional models, opened up for channel pruning and put back.

A model that calls a functional (or Sequential) sub-model, such as a
`keras.applications` backbone under a new head, is pruned *through* the
sub-model: `inline` rebuilds it as one flat graph whose layers are copies of
the leaf layers (a channel group then runs from the head into the backbone
and back), the flat graph is pruned, and `renest` puts the pruned layers back
into the original nesting, so `pruned.get_layer("backbone")` is still a model
and taps such as `"backbone/block_3_project"` still work.

Layers keep their names in the flat graph where the name is unique across
all levels; otherwise they are named `"<sub-model>_<layer>"`. Users name them
by their path, `"backbone/conv1"` (`Inlined.paths`), or by their plain name
when it is unique.
"""

import dataclasses

import keras

from tfkd.taps import _graph, _nodes


@dataclasses.dataclass
class Inlined:
    """A model with its nested functional sub-models opened up.

    Attributes:
        model: the flat functional model (the original itself when nothing
            was nested).
        paths: flat layer name -> the name users give it (`"sub/layer"` for
            a layer inside a sub-model, the plain name at the top level).
        flat_names: `id(original layer)` -> its flat layer name.
        nested: `id(sub-model)` of every sub-model opened up.
    """

    model: keras.Model
    paths: dict
    flat_names: dict
    nested: set

    def flat_name(self, name):
        """The flat layer name of `name` (a path, or a flat name), or None."""
        if name in self.paths:
            return name
        return next((flat for flat, path in self.paths.items() if path == name), None)


def _openable(node):
    """Whether the node calls a functional sub-model that can be inlined:
    one tensor per input of the sub-model, in order.
    """
    layer = node.operation
    if not isinstance(layer, keras.Model):
        return False
    try:
        graph = _graph(layer, "nested model")
    except ValueError:
        return False  # subclassed (or an unbuilt Sequential): left whole by the channel graph
    return len(node.input_tensors) == len(graph.inputs) and len(node.outputs) == len(graph.outputs)


def _leaves(graph, prefix, out, nested, seen):
    """Every leaf layer under `graph`, once, with its path (depth first)."""
    for node in _nodes(graph):
        layer = node.operation
        if _openable(node):
            nested.add(id(layer))
            if id(layer) not in seen:
                seen.add(id(layer))
                _leaves(_graph(layer, "nested model"), f"{prefix}{layer.name}/", out, nested, seen)
        elif id(layer) not in seen:
            seen.add(id(layer))
            out.append((layer, prefix + layer.name))
    return out


def _names(leaves):
    """Flat names: the plain name where unique, else the path with '_'."""
    counts = {}
    for layer, _ in leaves:
        counts[layer.name] = counts.get(layer.name, 0) + 1
    names, taken = {}, set()
    for layer, path in leaves:
        name = layer.name if counts[layer.name] == 1 else path.replace("/", "_")
        base, k = name, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names[id(layer)] = name
    return names


def inline(model):
    """`model` with every nested functional sub-model opened into one graph.

    Args:
        model: a built functional or Sequential `keras.Model`.

    Returns:
        An `Inlined`. Its `model` is `model` itself when no sub-model was
        nested; otherwise a new functional model of copies of the leaf
        layers (same configs, same weights) computing the same function.

    Raises:
        ValueError: for a subclassed or unbuilt model.

    Example:

    ```python
    flat = tfkd.pruning.nesting.inline(model)  # a backbone under a new head
    flat.paths  # {"conv1": "backbone/conv1", ..., "head": "head"}
    ```
    """
    graph = _graph(model, "model")
    nested = set()
    leaves = _leaves(graph, "", [], nested, set())
    if not nested:
        paths = {layer.name: layer.name for layer, _ in leaves}
        return Inlined(model, paths, {id(layer): layer.name for layer, _ in leaves}, nested)
    flat_names = _names(leaves)
    clones, pending = {}, []

    def clone(layer):
        if id(layer) not in clones:
            config = layer.get_config()
            config["name"] = flat_names[id(layer)]
            clones[id(layer)] = layer.__class__.from_config(config)
            pending.append((clones[id(layer)], layer))
        return clones[id(layer)]

    def play(sub, tensors):
        for node in _nodes(sub):
            if _openable(node):
                inner = _graph(node.operation, "nested model")
                inner_tensors = {id(x): tensors[id(y)] for x, y in zip(inner.inputs, node.input_tensors)}
                play(inner, inner_tensors)
                for x, y in zip(node.outputs, inner.outputs):
                    tensors[id(x)] = inner_tensors[id(y)]
                continue
            args, kwargs = node.arguments.fill_in(tensors)
            for x, y in zip(node.outputs, keras.tree.flatten(clone(node.operation)(*args, **kwargs))):
                tensors[id(x)] = y

    inputs = [keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name.split(":")[0]) for x in graph.inputs]
    tensors = {id(x): y for x, y in zip(graph.inputs, inputs)}
    play(graph, tensors)
    outputs = [tensors[id(y)] for y in graph.outputs]
    flat = keras.Model(
        inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=model.name
    )
    for copy, layer in pending:
        copy.set_weights(layer.get_weights())
    paths = {flat_names[id(layer)]: path for layer, path in leaves}
    return Inlined(flat, paths, flat_names, nested)


def renest(original, inlined, pruned, bypass=None):
    """The pruned flat model put back into `original`'s nesting.

    Args:
        original: the model `inline` opened up.
        inlined: `inline(original)`.
        pruned: a model cut from `inlined.model`: the same flat layer names,
            fewer channels, or fewer layers (residual blocks dropped).
        bypass: `{flat name of an Add: index of its skip input}` for the
            blocks `pruned` dropped; the layers of their branches are the
            flat layers `pruned` no longer has.

    Returns:
        A new functional model with `original`'s structure (each nested
        sub-model rebuilt as a functional model of the same name, its inputs
        as wide as what now feeds it) and `pruned`'s layers and weights.
        `pruned` itself when nothing was nested.
    """
    if not inlined.nested:
        return pruned
    bypass = bypass or {}
    by_name = {layer.name: layer for layer in pruned.layers}
    built, pending = {}, []

    def leaf(layer):
        if id(layer) not in built:
            source = by_name[inlined.flat_names[id(layer)]]
            config = source.get_config()
            config["name"] = layer.name
            built[id(layer)] = source.__class__.from_config(config)
            pending.append((built[id(layer)], source))
        return built[id(layer)]

    def rebuild(model, shapes):
        graph = _graph(model, "model")
        inputs = [
            keras.Input(batch_shape=shape, dtype=x.dtype, name=x.name.split(":")[0])
            for x, shape in zip(graph.inputs, shapes)
        ]
        tensors = {id(x): y for x, y in zip(graph.inputs, inputs)}
        for node in _nodes(graph):
            layer = node.operation
            name = inlined.flat_names.get(id(layer))
            if name in bypass:
                tensors[id(node.outputs[0])] = tensors[id(node.input_tensors[bypass[name]])]
                continue
            if any(id(x) not in tensors for x in node.input_tensors):
                continue  # on the branch of a dropped block
            if id(layer) in inlined.nested and _openable(node):
                if id(layer) not in built:
                    built[id(layer)] = rebuild(layer, [tensors[id(x)].shape for x in node.input_tensors])
                call = built[id(layer)]
                if call is None:
                    continue  # the whole sub-model was a dropped branch
            else:
                if name not in by_name:
                    continue  # dropped with its block
                call = leaf(layer)
            args, kwargs = node.arguments.fill_in(tensors)
            for x, y in zip(node.outputs, keras.tree.flatten(call(*args, **kwargs))):
                tensors[id(x)] = y
        if any(id(y) not in tensors for y in graph.outputs):
            return None
        outputs = [tensors[id(y)] for y in graph.outputs]
        return keras.Model(
            inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=model.name
        )

    new = rebuild(original, [x.shape for x in _graph(original, "model").inputs])
    for layer, source in pending:
        layer.set_weights(source.get_weights())
    return new


def trainable_copy(original, copy):
    """`copy`, made trainable when `original` was frozen as a whole.

    A teacher handed to a `Distiller` is frozen (`trainable = False`), and
    its layer configs carry that; a student cut from it is meant to train,
    so its layers are unfrozen. Layers frozen on their own in a trainable
    model (e.g. a frozen backbone) stay frozen.

    Args:
        original: the model the copy was made from.
        copy: the new model.

    Returns:
        `copy`.
    """
    if not original.trainable:
        # Each layer on its own: a functional model's own setter leaves
        # layers built frozen (from configs saying so) as they were.
        for layer in copy._flatten_layers(include_self=True):
            layer.trainable = True
    return copy
