"""The configuration shared by the recipes, validated before any work.

Users write `ml_collections` configs (`recipes/configs/<recipe>.py`, with
`--config.<field>=...` overrides); the recipes turn them into the typed,
validated dataclasses here (`Config` for every training run) with
`to_dataclass`.
"""

import dataclasses
import os
import tempfile

import ml_collections

from recipes.lib.methods import FEATURE_METHODS
from tfkd import data as data_lib
from tfkd import models as models_lib
from tfkd.losses.decoupled_kd import MIXED_LABELS
from tfkd.precision import PRECISIONS, default_precision

# Logit and contrastive methods; the feature methods come from `methods.py`.
METHODS = ("scratch", "kd", "dkd", "dist", "crd", *FEATURE_METHODS)
STRATEGIES = ("default", "mirrored", "multiworker")
SCHEDULES = ("cosine", "constant")
DEFAULT_EPOCHS = {"teacher": 15, "student": 20}
# Datasets whose classes survive a left-right mirror (not digits or letters).
FLIP_SAFE = ("fashion_mnist", "cifar10", "cifar100")


@dataclasses.dataclass
class Config:
    """Every setting of the recipes; flags map one to one onto fields."""

    dataset: str = "fashion_mnist"
    data_dir: str = ""
    download: bool = False
    teacher: str = ""  # a saved teacher (.keras); train_teacher writes one
    teachers: tuple = ()  # several saved teachers (multi-teacher kd)
    reference_teacher: str = ""  # a teacher to measure agreement with (scratch runs)
    teacher_model: str = "cnn_teacher"  # builder used by train_teacher
    ship_to: str = ""  # train_teacher: also copy the teacher here with a JSON record (command, sha256, accuracy)
    student: str = "cnn_small"
    student_width: int = 0  # 0: the builder's default width
    method: str = "kd"  # e.g. "kd", "fitnet", "kd+at"
    temperature: float = 2.0  # found by tune.py on the validation split (recipes/results/tuned.json)
    alpha: float = 0.5  # weight of the hard-label loss (soft labels: 1 - alpha); found by tune.py
    standardize: bool = False  # kd and dkd: z-score the logits before the temperature (Sun et al. 2024)
    dkd_temperature: float = 4.0  # DecoupledKD's T (Zhao et al. 2022: 4 on CIFAR)
    dkd_alpha: float = 1.0  # weight of TCKD
    dkd_beta: float = 8.0  # weight of NCKD
    dkd_warmup_epochs: float = 0.0  # linear warm-up of the DKD term
    dkd_mixed_labels: str = "dominant"  # DKD with mixup labels: "dominant" class, or "weighted" λ·DKD(a) + (1-λ)·DKD(b)
    dist_temperature: float = 4.0  # DIST's T (Huang et al. 2022: 4 on CIFAR, 1 on ImageNet)
    dist_beta: float = 2.0  # weight of the inter-class term
    dist_gamma: float = 2.0  # weight of the intra-class term
    crd_negatives: int = 4096  # negatives per step (Tian et al.: 16384)
    crd_feature_dim: int = 128
    crd_weight: float = 0.8
    student_init: str = ""  # a .keras file the student starts from (e.g. pruned from the teacher), not the builder
    keep: float = 0.5  # compress: the fraction of each layer's channels kept
    keep_by: str = (
        "uniform"  # compress: "uniform" (every layer keeps `keep`) or "search" (same size, per layer: search_keep)
    )
    keep_whole: tuple = ()  # compress: layers left whole (their tied groups keep every channel), e.g. ("t_embed",)
    drop_blocks: int = 0  # compress: residual blocks dropped before width pruning
    importance: str = "activation"  # compress: activation, bn_scale or magnitude
    reconstruct: bool = False  # compress: re-fit the cut layers by least squares on calibration images
    sparsity: float = 0.0  # compress: > 0: first train the teacher's copy with this sparsity penalty (network slimming)
    sparsity_epochs: int = 3  # compress: epochs of that sparsity training (distilled from the teacher)
    sparsity_from: str = "teacher"  # compress: that training starts from the teacher's weights or from "scratch"
    round_to: int = 1  # compress: channel counts rounded to a multiple of this
    hints: tuple = ()  # "teacher_layer:student_layer" pairs for fitnet
    feature_weight: float = -1.0  # < 0: the method's typical weight
    precision: str = ""  # "" = mixed_float16 on a GPU, float32 on a CPU
    epochs: int = 0  # 0: the recipe's default (DEFAULT_EPOCHS: 15 for the teacher, 20 for a student)
    train_examples: int = 0  # > 0: train on the first N examples of the training split (shortened schedules)
    batch_size: int = 128
    steps_per_execution: int = 1  # Keras compile(steps_per_execution=): training steps per graph call
    learning_rate: float = 2e-3  # peak learning rate (after warm-up)
    schedule: str = "cosine"  # "cosine" (linear warm-up, cosine decay to 0) or "constant"
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0  # > 0: AdamW with this decoupled weight decay
    augment: bool = True  # random 2-pixel shift, plus horizontal flip where it keeps the meaning
    mixup: float = 0.0  # > 0: mixup with Beta(mixup, mixup) weights (labels become one-hot)
    seed: int = 0
    deterministic: bool = False  # deterministic TF ops: a resumed run ends with identical weights
    validation_fraction: float = 0.1
    cache_teacher: bool = False  # run the teachers once over `views` augmented views, replay their outputs
    views: int = 8  # augmented views per example in the teacher cache (1 without augmentation)
    top_k: int = 0  # > 0: the cache keeps the k largest teacher logits
    cache_on_disk: bool = False  # keep the teacher cache under workdir/teacher_cache (reused by reruns)
    strategy: str = "default"
    workdir: str = "workdirs/default"
    export_dir: str = ""
    overwrite: bool = False
    smoke: bool = False  # a few steps on a small slice, for tests

    def resolved_precision(self):
        return self.precision or default_precision()

    def resolved_epochs(self, role="student"):
        """`epochs`, or the recipe's default for `role` when it is 0."""
        return self.epochs or DEFAULT_EPOCHS[role]

    def methods(self):
        return [m for m in self.method.split("+") if m]

    def validate(self):
        """Raises a one-line ValueError for the first bad setting."""
        if self.dataset not in data_lib.NAMES:
            raise ValueError(f"--config.dataset={self.dataset!r} is unknown; expected one of {list(data_lib.NAMES)}.")
        if self.student not in models_lib.NAMES:
            raise ValueError(f"--config.student={self.student!r} is unknown; expected one of {list(models_lib.NAMES)}.")
        if self.teacher_model not in models_lib.NAMES:
            raise ValueError(
                f"--config.teacher_model={self.teacher_model!r} is unknown; expected one of {list(models_lib.NAMES)}."
            )
        bad = [m for m in self.methods() if m not in METHODS]
        if bad or not self.methods():
            raise ValueError(
                f"--config.method={self.method!r} is unknown; expected one of {list(METHODS)} "
                "or a '+' combination such as 'kd+at'."
            )
        if self.precision and self.precision not in PRECISIONS:
            raise ValueError(f"--config.precision={self.precision!r} is not one of {list(PRECISIONS)}.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"--config.strategy={self.strategy!r} is not one of {list(STRATEGIES)}.")
        for path in (self.teacher, *self.teachers):
            if path and not os.path.exists(path):
                raise ValueError(
                    f"Teacher file {path!r} does not exist. "
                    "Fix: train one with recipes/train_teacher.py, or correct the path."
                )
        for pair in self.hints:
            if pair.count(":") < 1 or not all(pair.split(":", 1)):
                raise ValueError(f"--config.hints entry {pair!r} must be 'teacher_layer:student_layer'.")
        if self.views < 1 or self.top_k < 0:
            raise ValueError(f"--config.views must be >= 1 and --config.top_k >= 0, got {self.views} and {self.top_k}.")
        if self.train_examples < 0:
            raise ValueError(f"--config.train_examples must be >= 0 (0: all), got {self.train_examples}.")
        if self.epochs < 0:
            raise ValueError(f"--config.epochs must be >= 1 (or 0 for the recipe's default), got {self.epochs}.")
        if self.batch_size < 1:
            raise ValueError(f"--config.batch_size must be >= 1, got {self.batch_size}.")
        if self.steps_per_execution < 1:
            raise ValueError(
                f"--config.steps_per_execution must be >= 1 (training steps per graph call), "
                f"got {self.steps_per_execution}."
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"--config.schedule={self.schedule!r} is not one of {list(SCHEDULES)}.")
        for name in ("warmup_epochs", "weight_decay", "mixup"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"--config.{name} must be >= 0, got {getattr(self, name)}.")
        if not self.learning_rate > 0:
            raise ValueError(f"--config.learning_rate must be > 0, got {self.learning_rate}.")
        if not 0 <= self.alpha:
            raise ValueError(f"--config.alpha must be >= 0, got {self.alpha}.")
        for name in ("temperature", "dkd_temperature", "dist_temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--config.{name} must be > 0, got {getattr(self, name)}.")
        for name in ("dkd_alpha", "dkd_beta", "dkd_warmup_epochs", "dist_beta", "dist_gamma", "crd_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"--config.{name} must be >= 0, got {getattr(self, name)}.")
        if self.dkd_mixed_labels not in MIXED_LABELS:
            raise ValueError(
                f"--config.dkd_mixed_labels must be one of {list(MIXED_LABELS)}, got {self.dkd_mixed_labels!r}."
            )
        if self.student_init and not os.path.exists(self.student_init):
            raise ValueError(
                f"--config.student_init={self.student_init!r} does not exist. Fix: pass a saved .keras model."
            )
        if not 0 < self.keep <= 1:
            raise ValueError(f"--config.keep must be a fraction in (0, 1], got {self.keep}.")
        if self.keep_by not in ("uniform", "search"):
            raise ValueError(f"--config.keep_by must be 'uniform' or 'search', got {self.keep_by!r}.")
        if self.keep_whole and self.keep_by == "search":
            raise ValueError(
                "--config.keep_whole and --config.keep_by=search both choose per-layer fractions. Fix: pass one."
            )
        if self.drop_blocks < 0 or self.round_to < 1:
            raise ValueError(
                f"--config.drop_blocks must be >= 0 and --config.round_to >= 1, got {self.drop_blocks}, "
                f"{self.round_to}."
            )
        if self.importance not in ("activation", "bn_scale", "magnitude"):
            raise ValueError(f"--config.importance must be activation, bn_scale or magnitude, got {self.importance!r}.")
        if self.sparsity < 0 or (self.sparsity > 0 and self.sparsity_epochs < 1):
            raise ValueError(
                f"--config.sparsity must be >= 0 and, when > 0, --config.sparsity_epochs >= 1; got {self.sparsity} "
                f"and {self.sparsity_epochs}."
            )
        if self.sparsity_from not in ("teacher", "scratch"):
            raise ValueError(
                f"--config.sparsity_from must be 'teacher' (fine-tune the teacher's copy with the penalty) or "
                f"'scratch' (train the teacher's architecture from random weights with it), got {self.sparsity_from!r}."
            )
        if self.sparsity > 0 and self.importance not in ("bn_scale", "magnitude"):
            raise ValueError(
                f"--config.sparsity penalizes the BatchNorm scales or the filters that --config.importance then "
                f"ranks, but importance is {self.importance!r}. Fix: --config.importance=bn_scale (or magnitude)."
            )
        if self.crd_negatives < 1 or self.crd_feature_dim < 1:
            raise ValueError(
                f"--config.crd_negatives and --config.crd_feature_dim must be >= 1, got {self.crd_negatives} and "
                f"{self.crd_feature_dim}."
            )
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"--config.validation_fraction must be in (0, 1), got {self.validation_fraction}.")
        _check_writable(self.workdir)
        return self


def _check_writable(folder):
    """Tries to create a file in the nearest existing ancestor of `folder`."""
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    problem = None
    if not os.path.isdir(probe):
        problem = f"{probe!r} is a file"
    else:
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as e:
            problem = f"{probe!r} denies writing ({e.strerror})"
    if problem:
        raise ValueError(f"--workdir={folder!r} is not writable: {problem}. Fix: choose a folder you can write to.")


def config_dict(cls=Config, skip=("workdir",), **fields):
    """The defaults of the dataclass `cls` as an `ml_collections.ConfigDict`.

    Tuple fields of strings become comma-separated strings (`teachers="a.keras,b.keras"`,
    overridable as `--config.teachers=a.keras,b.keras`); tuples of numbers stay tuples
    (`--config.seeds=0,1,2`).

    Args:
        cls: a dataclass whose fields all have defaults.
        skip: fields left out (the workdir is a flag of its own).
        **fields: more fields (a recipe's own settings) or new defaults.

    Returns:
        A `ConfigDict` with one entry per field.
    """
    out = {}
    for field in dataclasses.fields(cls):
        if field.name in skip or field.default is dataclasses.MISSING:
            continue
        value = field.default
        if isinstance(value, tuple) and not _numbers(value):
            value = ",".join(value)
        out[field.name] = value
    for name, value in fields.items():
        if isinstance(value, tuple) and not _numbers(value):
            value = ",".join(value)
        out[name] = value
    return ml_collections.ConfigDict(out)


def _numbers(values):
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def to_dataclass(cls, config, ignore=(), **fixed):
    """A validated `cls` from a config: the fields it names, converted back.

    Args:
        cls: the dataclass (`Config`, or a benchmark's settings).
        config: a `ConfigDict` or dict from `recipes/configs/`.
        ignore: the config's own entries that are not fields of `cls` (a
            recipe's other settings).
        **fixed: fields set by the recipe (e.g. `workdir`).

    Returns:
        `cls(...)`, validated when it has a `validate` method.

    Raises:
        ValueError: for entries that are not fields of `cls` (a misspelt
            override) or bad values.
    """
    values = dict(config.to_dict() if isinstance(config, ml_collections.ConfigDict) else config)
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in values if k not in names and k not in ignore)
    if unknown:
        raise ValueError(f"Unknown setting(s) {unknown}; expected names from {sorted(names)}.")
    kwargs = {}
    for name, value in values.items():
        if name not in names:
            continue
        default = names[name].default
        if isinstance(default, tuple):
            value = _as_tuple(value, default, name)
        kwargs[name] = value
    kwargs.update(fixed)
    out = cls(**kwargs)
    return out.validate() if hasattr(out, "validate") else out


def _as_tuple(value, default, name):
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    value = tuple(value)
    if _numbers(default):
        kind = float if any(isinstance(v, float) for v in default) else int
        try:
            value = tuple(kind(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"--config.{name} must be numbers separated by commas, got {value!r}.") from None
    return value


def with_variant(config, variant, variants):
    """`config` updated with the fields of `variants[variant]`.

    Args:
        config: the `ConfigDict` of a config file's defaults.
        variant: the text after the colon in `--config=<file>:<variant>`
            (`""` or `None`: the defaults).
        variants: `{name: {field: value}}`.

    Returns:
        `config`, updated in place.

    Raises:
        ValueError: for a variant the file does not have.
    """
    if not variant:
        return config
    if variant not in variants:
        raise ValueError(f"Unknown config variant {variant!r}; this config file has {sorted(variants)}.")
    config.update(variants[variant])
    return config


def training_config(config, workdir=None, ignore=()):
    """A validated `Config` for one training run.

    Args:
        config: a `Config`, or a `ConfigDict`/dict of a config file
            (entries in `ignore` are the recipe's own settings).
        workdir: the output folder (a `Config`'s own when None).
        ignore: entries of `config` that are not `Config` fields.

    Returns:
        A validated `Config`.

    Raises:
        ValueError: for unknown entries or bad values.
    """
    if isinstance(config, Config):
        return dataclasses.replace(config, workdir=workdir or config.workdir).validate()
    return to_dataclass(Config, config, ignore, **({"workdir": workdir} if workdir else {}))


def student_key(config):
    """A student's key in tuned settings: its name and width (`mlp_small_w128`)."""
    return f"{config.student}_w{config.student_width}" if config.student_width else config.student


def tuned_config(config, tuned, method, key=None):
    """`config` with the settings in `tuned` (`{student_key: {method:
    {field: value}}}`, as `tune.py` writes them) for its student (or the
    student `key`) and `method`; unchanged where nothing was tuned. DIST's
    γ follows its β, as tune.py searches them."""
    found = tuned.get(key or student_key(config), {}).get(method, {})
    fields = {f.name for f in dataclasses.fields(Config)}
    chosen = {k: v for k, v in found.items() if k in fields}
    if "dist_beta" in chosen:
        chosen["dist_gamma"] = chosen["dist_beta"]
    return dataclasses.replace(config, **chosen)
