"""Which channels of a functional Keras model are tied together.

Every layer that makes new channels (Conv, Dense, SeparableConv) starts a
**group** of channels. Layers that pass channels through unchanged
(BatchNormalization, activations, pooling, Dropout, DepthwiseConv2D with
multiplier 1, LayerNormalization over channels, ...) carry them on;
elementwise merges (`Add`, `Subtract`, `Multiply`, `Maximum`, `Minimum`,
`Average`) tie the groups of their inputs into one, so a residual stream is
pruned as one; `Concatenate` on the channel axis lays its inputs' groups side
by side (each pruned on its own); `Flatten` spreads a group over positions,
which only a following `Dense` can follow; a `Reshape` that keeps the
channel axis (squeeze-excite's `(C,) -> (1, 1, C)`) passes them on. Nested
functional and Sequential sub-models are opened up (`tfkd.pruning.nesting`):
their layers join the groups of the layers around them. A group is **frozen** (kept
whole) when it reaches the model's output, a layer this module does not
know, a layer called more than once, or a nested subclassed model; the
reason is kept for the report.
"""

import dataclasses

import keras

from tfkd.pruning import nesting
from tfkd.taps import _graph, _nodes

# Layers that make a new channel axis from their input's (their output
# channels are prunable, their input rows follow the previous group).
PRODUCERS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)
SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
# Layers whose output channels are their input channels, one to one.
PASS_THROUGH = tuple(
    getattr(keras.layers, n)
    for n in (
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalAveragePooling3D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "GlobalMaxPooling3D",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "UpSampling1D",
        "UpSampling2D",
        "UpSampling3D",
        "BatchNormalization",
        "LayerNormalization",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "Identity",
    )
    if hasattr(keras.layers, n)
)
MERGES = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Average,
)


@dataclasses.dataclass
class Segment:
    """`size` consecutive channels of a tensor that belong to one group."""

    group: int
    size: int


@dataclasses.dataclass
class Channels:
    """The channel layout of one symbolic tensor.

    Attributes:
        segments: the groups along the last axis, in order.
        positions: > 1 when a `Flatten` spread the channels over this many
            positions (the last axis is then positions × channels).
    """

    segments: list
    positions: int = 1

    @property
    def width(self):
        """Channels along the last axis, summed over the segments."""
        return sum(s.size for s in self.segments)


class ChannelGraph:
    """The groups of a functional model and where each layer reads and writes.

    Args:
        model: a built functional `keras.Model`.

    Attributes:
        model: the model, flat: nested functional sub-models opened up
            (`tfkd.pruning.nesting.inline`).
        inlined: the `nesting.Inlined` behind `model` (layer paths, and
            what `nesting.renest` needs to put a pruned copy back).
        groups: group id -> size.
        producers: group id -> names of the layers that make its channels.
        frozen: group id -> the reason it is kept whole.
        layout: `id(symbolic tensor)` -> `Channels`.
        nodes: the model's nodes in topological order.
        skipped: layer name -> why it is left whole (for the report).

    Raises:
        ValueError: for a subclassed or unbuilt model.
    """

    def __init__(self, model):
        self.inlined = nesting.inline(_graph(model, "model"))
        self.model = _graph(self.inlined.model, "model")
        self.groups, self.producers, self.frozen, self.layout, self.skipped = {}, {}, {}, {}, {}
        self._parent = {}
        self.nodes = _nodes(self.model)  # topological: inputs first
        calls = {}
        for node in self.nodes:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
        for x in self.model.inputs:
            width = int(x.shape[-1])
            self.layout[id(x)] = Channels([Segment(self._new_group(None, "the model's input", width), width)])
        for node in self.nodes:
            self._visit(node, calls[id(node.operation)] > 1)
        for y in self.model.outputs:
            for seg in self.layout[id(y)].segments:
                self._freeze(seg.group, "reaches the model's output")

    def display(self, name):
        """The name users give the flat layer `name` (`"sub/layer"` inside
        a nested model).
        """
        return self.inlined.paths.get(name, name)

    # ------------------------------------------------------------ groups
    def _new_group(self, producer, frozen_reason=None, size=None):
        g = len(self._parent)
        self._parent[g] = g
        self.groups[g] = size
        self.producers[g] = [producer] if producer else []
        if frozen_reason:
            self.frozen[g] = frozen_reason
        return g

    def find(self, g):
        """The representative of group `g` (groups tied by merges are one)."""
        while self._parent[g] != g:
            self._parent[g] = self._parent[self._parent[g]]
            g = self._parent[g]
        return g

    def _union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        self._parent[b] = a
        self.producers[a] = self.producers[a] + self.producers.pop(b)
        if b in self.frozen:
            self.frozen.setdefault(a, self.frozen.pop(b))
        return a

    def _freeze(self, g, reason):
        self.frozen.setdefault(self.find(g), reason)

    def is_frozen(self, g):
        """Whether group `g` is kept whole."""
        return self.find(g) in self.frozen

    def frozen_reason(self, g):
        """Why group `g` is kept whole, or None."""
        return self.frozen.get(self.find(g))

    def roots(self):
        """Every group's representative, once."""
        return sorted({self.find(g) for g in self._parent})

    # ------------------------------------------------------------- walk
    def _opaque(self, node, reason):
        """A layer left whole: its inputs' groups are frozen and its outputs
        are new frozen groups.
        """
        for x in node.input_tensors:
            for seg in self.layout.get(id(x), Channels([])).segments:
                self._freeze(seg.group, f"feeds {node.operation.name!r} ({reason})")
        self.skipped.setdefault(node.operation.name, reason)
        for y in node.output_tensors:
            width = int(y.shape[-1]) if y.shape and y.shape[-1] is not None else 0
            group = self._new_group(None, f"made by {node.operation.name!r}", width)
            self.layout[id(y)] = Channels([Segment(group, width)])

    def _visit(self, node, shared):
        layer = node.operation
        inputs = [self.layout[id(x)] for x in node.input_tensors]
        name = layer.name
        if shared:
            return self._opaque(node, "called more than once")
        if isinstance(layer, keras.Model):
            return self._opaque(node, "a nested model without a functional graph")
        if isinstance(layer, PRODUCERS) or isinstance(layer, SEPARABLE):
            if getattr(layer, "groups", 1) != 1:
                return self._opaque(node, "a grouped convolution")
            if isinstance(layer, keras.layers.Dense) and len(node.input_tensors[0].shape) != 2:
                return self._opaque(node, "a Dense on a rank > 2 input")
            if inputs[0].positions != 1 and not isinstance(layer, keras.layers.Dense):
                return self._opaque(node, "reads flattened channels")
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                return self._opaque(node, "channels_first")
            out = node.output_tensors[0]
            self.layout[id(out)] = Channels(
                [Segment(self._new_group(name, size=int(out.shape[-1])), int(out.shape[-1]))]
            )
            return None
        if isinstance(layer, PASS_THROUGH):
            if inputs[0].positions != 1:
                return self._opaque(node, "reads flattened channels")
            if isinstance(layer, keras.layers.DepthwiseConv2D) and layer.depth_multiplier != 1:
                return self._opaque(node, "a depth multiplier above 1")
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                return self._opaque(node, "channels_first")
            axis = getattr(layer, "axis", -1)
            axes = axis if isinstance(axis, (list, tuple)) else [axis]
            rank = len(node.input_tensors[0].shape)
            if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)) and [
                a % rank for a in axes
            ] != [rank - 1]:
                return self._opaque(node, "normalises over other axes than the channels")
            self.layout[id(node.output_tensors[0])] = Channels(list(inputs[0].segments))
            return None
        if isinstance(layer, MERGES):
            first = inputs[0]
            if any(c.positions != 1 for c in inputs) or any(len(c.segments) != len(first.segments) for c in inputs):
                return self._opaque(node, "merges differently laid-out inputs")
            if any(a.size != b.size for c in inputs for a, b in zip(c.segments, first.segments)):
                return self._opaque(node, "merges differently laid-out inputs")
            for c in inputs[1:]:
                for a, b in zip(first.segments, c.segments):
                    self._union(a.group, b.group)
            self.layout[id(node.output_tensors[0])] = Channels(list(first.segments))
            return None
        if isinstance(layer, keras.layers.Concatenate):
            rank = len(node.output_tensors[0].shape)
            if layer.axis % rank != rank - 1 or any(c.positions != 1 for c in inputs):
                return self._opaque(node, "concatenates along another axis than the channels")
            self.layout[id(node.output_tensors[0])] = Channels([s for c in inputs for s in c.segments])
            return None
        if isinstance(layer, keras.layers.Reshape):
            # Channels last and row-major: a reshape that keeps the last axis
            # keeps every position's channel vector whole (squeeze-excite's
            # (C,) -> (1, 1, C)); `surgery` rewrites its target width.
            x, y = node.input_tensors[0], node.output_tensors[0]
            if inputs[0].positions != 1 or x.shape[-1] is None or x.shape[-1] != y.shape[-1]:
                return self._opaque(node, "reshapes the channel axis")
            self.layout[id(y)] = Channels(list(inputs[0].segments))
            return None
        if isinstance(layer, keras.layers.Flatten):
            shape = node.input_tensors[0].shape
            positions = 1
            for d in shape[1:-1]:
                positions *= int(d)
            self.layout[id(node.output_tensors[0])] = Channels(
                list(inputs[0].segments), positions * inputs[0].positions
            )
            return None
        if isinstance(layer, keras.layers.InputLayer):
            return None
        return self._opaque(node, f"{type(layer).__name__} is not a layer channel pruning knows")
