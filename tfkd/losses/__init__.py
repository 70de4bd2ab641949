"""Distillation losses. Each is callable as `loss(teacher, student)` and
returns the unweighted float32 scalar.
"""

from tfkd.losses.attention_transfer import AttentionTransfer
from tfkd.losses.base import DistillationLoss
from tfkd.losses.contrastive import CRD
from tfkd.losses.decoupled_kd import DecoupledKD
from tfkd.losses.dist import DIST
from tfkd.losses.feature_hint import FeatureHint
from tfkd.losses.probabilistic_kt import ProbabilisticKT
from tfkd.losses.relational_kd import RelationalKD
from tfkd.losses.similarity_preserving import SimilarityPreserving
from tfkd.losses.soft_labels import SoftLabels

_BY_NAME = {
    "soft_labels": SoftLabels,
    "kd": SoftLabels,
    "feature_hint": FeatureHint,
    "fitnet": FeatureHint,
    "attention_transfer": AttentionTransfer,
    "at": AttentionTransfer,
    "relational_kd": RelationalKD,
    "rkd": RelationalKD,
    "similarity_preserving": SimilarityPreserving,
    "sp": SimilarityPreserving,
    "probabilistic_kt": ProbabilisticKT,
    "pkt": ProbabilisticKT,
    "decoupled_kd": DecoupledKD,
    "dkd": DecoupledKD,
    "dist": DIST,
    "crd": CRD,
}


def get(identifier, **kwargs):
    """Returns a loss class instance from a name, a config dict or an instance.

    Args:
        identifier: a `DistillationLoss`, a name such as `"soft_labels"` (or
            its short form `"kd"`), or a dict `{"class_name": ..., "config":
            ...}`.
        **kwargs: constructor arguments when `identifier` is a name.

    Returns:
        A `DistillationLoss` instance.

    Raises:
        ValueError: for an unknown identifier.

    Example:

    ```python
    tfkd.losses.get("soft_labels", temperature=2.0)
    ```
    """
    if isinstance(identifier, DistillationLoss):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(identifier["class_name"]) or next(
            (c for c in _BY_NAME.values() if c.__name__ == identifier["class_name"]), None
        )
        if cls is not None:
            return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier](**kwargs)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Known names: {sorted(_BY_NAME)}.")


__all__ = [
    "AttentionTransfer",
    "CRD",
    "DIST",
    "DecoupledKD",
    "DistillationLoss",
    "FeatureHint",
    "ProbabilisticKT",
    "RelationalKD",
    "SimilarityPreserving",
    "SoftLabels",
    "get",
]
