"""Datasets for the recipes and benchmarks."""

from tfkd.data.augment import Augment
from tfkd.data.datasets import (
    NAMES,
    NUM_CLASSES,
    DatasetNotFoundError,
    load,
    load_arrays,
    make_dataset,
    split_validation,
    to_float,
)
from tfkd.data.epochs import seeded_epochs
from tfkd.data.idx import read_idx

__all__ = [
    "Augment",
    "NAMES",
    "NUM_CLASSES",
    "DatasetNotFoundError",
    "load",
    "load_arrays",
    "make_dataset",
    "read_idx",
    "seeded_epochs",
    "split_validation",
    "to_float",
]
