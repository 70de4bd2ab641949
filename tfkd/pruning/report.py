"""What pruning changed: channels, parameters and multiply-adds per layer."""

import dataclasses
import math

import keras

from tfkd.pruning.channel_graph import PRODUCERS, SEPARABLE, ChannelGraph


def layer_macs(layer, input_shape, output_shape):
    """Multiply-adds of one call of `layer` on one example.

    Args:
        layer: a Keras layer.
        input_shape: its symbolic input shape (batch first).
        output_shape: its symbolic output shape (batch first).

    Returns:
        An int: Conv (in · out · kernel · output positions / groups), Dense
        (in · out · leading positions), depthwise and separable convs; 0
        for layers without weights that multiply.
    """
    positions = math.prod(int(d) for d in output_shape[1:-1]) if len(output_shape) > 2 else 1
    if isinstance(layer, SEPARABLE):
        c_in, mult = int(input_shape[-1]), layer.depth_multiplier
        kernel = math.prod(layer.kernel_size)
        return positions * (kernel * c_in * mult + c_in * mult * int(output_shape[-1]))
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return positions * math.prod(layer.kernel_size) * int(input_shape[-1]) * layer.depth_multiplier
    if isinstance(layer, keras.layers.Dense):
        return positions * int(input_shape[-1]) * int(output_shape[-1])
    if isinstance(layer, PRODUCERS):
        kernel = math.prod(layer.kernel_size)
        return positions * kernel * int(input_shape[-1]) * int(output_shape[-1]) // getattr(layer, "groups", 1)
    return 0


@dataclasses.dataclass
class LayerRow:
    """One layer before and after pruning (`removed`: dropped with its block
    by depth pruning; its after-counts are 0).
    """

    name: str
    kind: str
    channels_before: int
    channels_after: int
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    removed: bool = False


@dataclasses.dataclass
class PruneReport:
    """Per-layer channels, parameters and MACs of a model and its pruned copy.

    Attributes:
        rows: a `LayerRow` per layer with weights (`"sub/layer"` for a layer
            inside a nested model).
        left_whole: `{layer name: reason}` for the layers pruning keeps
            whole (and whose input channels it therefore keeps).
        params_before, params_after, macs_before, macs_after: totals (MACs
            per example).
    """

    rows: list
    left_whole: dict
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int

    def __str__(self):
        lines = [
            "| layer | type | channels | parameters | MACs |",
            "|---|---|---:|---:|---:|",
        ]
        for r in self.rows:
            after = "removed" if r.removed else r.channels_after
            lines.append(
                f"| {r.name} | {r.kind} | {r.channels_before} → {after} | "
                f"{r.params_before:,} → {r.params_after:,} | {r.macs_before:,} → {r.macs_after:,} |"
            )
        lines.append(
            f"| **total** | | | {self.params_before:,} → {self.params_after:,} "
            f"({self.params_after / max(self.params_before, 1):.1%}) | {self.macs_before:,} → {self.macs_after:,} "
            f"({self.macs_after / max(self.macs_before, 1):.1%}) |"
        )
        if self.left_whole:
            lines.append("")
            lines.append("Left whole: " + "; ".join(f"{k} ({v})" for k, v in sorted(self.left_whole.items())))
        return "\n".join(lines)


def _calls(model):
    graph = ChannelGraph(model)
    out = {}
    for node in graph.nodes:
        layer = node.operation
        name = graph.display(layer.name)
        if layer.weights and name not in out:
            out[name] = (layer, node.input_tensors[0].shape, node.output_tensors[0].shape)
    return graph, out


def prune_report(original, pruned, print_fn=None):
    """Compares a model with its pruned copy, layer by layer.

    Args:
        original: the model given to `prune_width`.
        pruned: the model it returned.
        print_fn: called with the Markdown table, if given.

    Returns:
        A `PruneReport` (its `str()` is a Markdown table).

    Raises:
        ValueError: if either is not a functional model.

    Example:

    ```python
    report = tfkd.prune_report(teacher, student)
    print(report)  # | t_block1_conv | Conv2D | 32 → 16 | 288 → 144 | ...
    report.params_after / report.params_before
    ```
    """
    graph, before = _calls(original)
    _, after = _calls(pruned)
    rows = []
    for name, (layer, in_shape, out_shape) in before.items():
        other = after.get(name)
        macs = layer_macs(layer, in_shape, out_shape)
        if other is None:  # dropped with its residual block
            rows.append(
                LayerRow(name, type(layer).__name__, int(out_shape[-1]), 0, layer.count_params(), 0, macs, 0, True)
            )
            continue
        p_layer, p_in, p_out = other
        rows.append(
            LayerRow(
                name,
                type(layer).__name__,
                int(out_shape[-1]),
                int(p_out[-1]),
                layer.count_params(),
                p_layer.count_params(),
                macs,
                layer_macs(p_layer, p_in, p_out),
            )
        )
    report = PruneReport(
        rows,
        {graph.display(k): v for k, v in graph.skipped.items()},
        original.count_params(),
        pruned.count_params(),
        sum(r.macs_before for r in rows),
        sum(r.macs_after for r in rows),
    )
    if print_fn:
        print_fn(str(report))
    return report
