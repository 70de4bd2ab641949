"""Structured pruning: students cut out of a trained model (fewer channels
per layer), with exact weight surgery on functional Keras graphs.
"""

from tfkd.pruning.batchnorm import recalibrate_batchnorm
from tfkd.pruning.depth import prune_depth, residual_blocks
from tfkd.pruning.report import PruneReport, prune_report
from tfkd.pruning.sensitivity import layer_sensitivity, search_keep
from tfkd.pruning.sparsity import ChannelSparsity, sparsify
from tfkd.pruning.width import prunable_groups, prune_width

__all__ = [
    "ChannelSparsity",
    "PruneReport",
    "layer_sensitivity",
    "prunable_groups",
    "prune_depth",
    "prune_report",
    "prune_width",
    "recalibrate_batchnorm",
    "residual_blocks",
    "search_keep",
    "sparsify",
]
