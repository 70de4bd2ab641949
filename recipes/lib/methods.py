"""Distillation methods by name, with default layer pairs for the reference
models: what `--config.method=kd+at` turns into."""

from tfkd import losses
from tfkd.models import TAPS

# Typical weights (RepDistiller's, for losses of the same formula).
TYPICAL_WEIGHT = {"fitnet": 1.0, "at": 1000.0, "rkd": 1.0, "sp": 3000.0, "pkt": 30000.0}

# Which tap roles each method pairs: (teacher role, student role).
_PAIRS = {
    "fitnet": {"conv": [("block2", "block2")], "dense": [("embed", "embed")]},
    "at": {"conv": [("block1", "block1"), ("block2", "block2")]},
    "rkd": {"conv": [("embed", "embed")], "dense": [("embed", "embed")]},
    "sp": {"conv": [("block3", "block2")], "dense": [("block3", "embed")]},
    "pkt": {"conv": [("embed", "embed")], "dense": [("embed", "embed")]},
}
_CLASSES = {
    "fitnet": losses.FeatureHint,
    "at": losses.AttentionTransfer,
    "rkd": losses.RelationalKD,
    "sp": losses.SimilarityPreserving,
    "pkt": losses.ProbabilisticKT,
}
# The feature methods by name (`config.METHODS` adds the logit methods).
FEATURE_METHODS = tuple(_CLASSES)


def _pairs(method, teacher_name, student_name):
    t_taps, s_taps = TAPS.get(teacher_name), TAPS.get(student_name)
    if t_taps is None or s_taps is None:
        unknown = teacher_name if t_taps is None else student_name
        raise ValueError(
            f"--config.method={method} has no default layers for the model {unknown!r}. "
            "Fix: name the pair with --config.hints=teacher_layer:student_layer."
        )
    kind = "conv" if "block1" in s_taps else "dense"
    pairs = _PAIRS[method].get(kind)
    if not pairs:
        raise ValueError(
            f"--config.method={method} needs convolutional feature maps, but the "
            f"student {student_name!r} has none. Fix: pick another method "
            "(kd, fitnet, rkd, sp, pkt) or a convolutional student."
        )
    return [(t_taps[t], s_taps[s]) for t, s in pairs]


def _logit_loss(method, config, num_examples, steps_per_epoch, prefix):
    """The logit-level (and CRD) loss of `method`, or None for a feature method."""
    soft_weight = max(1.0 - config.alpha, 0.0)
    if method == "kd":
        return losses.SoftLabels(config.temperature, weight=soft_weight, standardize=config.standardize)
    if method == "dkd":
        return losses.DecoupledKD(
            temperature=config.dkd_temperature,
            alpha=config.dkd_alpha,
            beta=config.dkd_beta,
            warmup_steps=int(round(config.dkd_warmup_epochs * steps_per_epoch)),
            standardize=config.standardize,
            weight=soft_weight,
            mixed_labels=config.dkd_mixed_labels,
        )
    if method == "dist":
        return losses.DIST(
            temperature=config.dist_temperature, beta=config.dist_beta, gamma=config.dist_gamma, weight=soft_weight
        )
    if method == "crd":
        if not num_examples:
            raise ValueError("--config.method=crd needs the number of training examples (its memory bank's size).")
        if prefix:
            raise ValueError(
                "--config.method=crd reads one teacher's penultimate features; with several teachers use kd, dkd "
                "or dist."
            )
        return losses.CRD(
            feature_dim=config.crd_feature_dim,
            negatives=config.crd_negatives,
            weight=config.crd_weight,
            num_examples=num_examples,
        )
    return None


def build_losses(config, teacher_names, student_name, num_examples=0, steps_per_epoch=1):
    """The distillation losses for `config.method` (e.g. "kd+at").

    Args:
        config: a `recipes.lib.config.Config`.
        teacher_names: model names of the teachers (the first is used for
            feature methods; with several teachers, paths get its prefix).
        student_name: the student's builder name.
        num_examples: training examples (the size of CRD's memory bank).
        steps_per_epoch: to turn DKD's warm-up epochs into steps.

    Returns:
        A list of `tfkd.losses.DistillationLoss`.

    Raises:
        ValueError: for a method with no default layers for these models.
    """
    out = []
    prefix = f"{teacher_names[0]}/" if len(teacher_names) > 1 else ""
    for method in config.methods():
        if method == "scratch":
            continue
        logit_loss = _logit_loss(method, config, num_examples, steps_per_epoch, prefix)
        if logit_loss is not None:
            out.append(logit_loss)
            continue
        weight = config.feature_weight if config.feature_weight >= 0 else TYPICAL_WEIGHT[method]
        if method == "fitnet" and config.hints:
            pairs = [tuple(h.split(":", 1)) for h in config.hints]
        else:
            pairs = _pairs(method, teacher_names[0], student_name)
        for t, s in pairs:
            out.append(
                _CLASSES[method](prefix + t, s, weight=weight, name=f"{method}_{s.replace('/', '_').replace(':', '_')}")
            )
    return out
