"""Checks of the Distiller's constructor arguments, run before any work:
each bad argument raises one ValueError naming the problem and the fix.
"""

import warnings

import keras

from tfkd import losses as losses_lib
from tfkd.losses.schedule import Scheduled
from tfkd.nonfinite import NONFINITE
from tfkd.validation import finite_number

# Keras layers that augment at random in training: inside a student they
# would show it images the teacher never sees.
_RANDOM_LAYERS = tuple(
    getattr(keras.layers, n)
    for n in (
        "RandomFlip",
        "RandomTranslation",
        "RandomRotation",
        "RandomZoom",
        "RandomCrop",
        "RandomContrast",
        "RandomBrightness",
        "RandomErasing",
        "RandomShear",
        "RandomPerspective",
        "RandomColorJitter",
        "RandomGrayscale",
        "RandomSaturation",
        "RandomHue",
        "RandomSharpness",
        "RandomElasticTransform",
        "RandAugment",
        "AugMix",
        "CutMix",
        "MixUp",
    )
    if hasattr(keras.layers, n)
)


def _check_model(model, role):
    if not isinstance(model, keras.Model):
        raise ValueError(f"The {role} must be a keras.Model, got {type(model).__name__}.")
    if not model.built or not getattr(model, "inputs", None) and not model.weights:
        raise ValueError(
            f"The {role} `{model.name}` is not built: it has no weights or input shape yet. Fix: build it with "
            "`keras.Input(shape=...)` or call it once on a batch (and, for a teacher, load or train its weights) "
            "before making the Distiller."
        )


def _input_shapes(model):
    inputs = getattr(model, "inputs", None)
    return [tuple(x.shape[1:]) for x in inputs] if inputs else None


def _check_inputs(teachers, student):
    s_shapes = _input_shapes(student)
    for t in teachers:
        t_shapes = _input_shapes(t)
        if s_shapes is None or t_shapes is None:
            continue
        compatible = len(t_shapes) == len(s_shapes) and all(
            len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))
            for a, b in zip(t_shapes, s_shapes)
        )
        if not compatible:
            raise ValueError(
                f"Teacher `{t.name}` and student `{student.name}` take inputs of incompatible shapes: teacher "
                f"{t_shapes}, student {s_shapes} (batch axis omitted). Both are fed the same batch. Fix: build "
                "both with the same input shape."
            )


def _check_teacher_weights(weights, n):
    if weights is None:
        return None
    weights = list(weights)
    if len(weights) != n:
        raise ValueError(f"`teacher_weights` has {len(weights)} entries for {n} teachers.")
    weights = [finite_number(w, f"teacher_weights[{i}]") for i, w in enumerate(weights)]
    if sum(weights) <= 0:
        raise ValueError("`teacher_weights` must not all be zero.")
    return weights


# Attributes DistillationLoss.__init__ sets and the Distiller reads: a
# subclass that stores something else under one of these names breaks it.
_RESERVED = {
    "weight": "the term's weight, a Scheduled set by DistillationLoss.__init__(weight=...)",
    "name": "the metric name, a non-empty string",
    "teacher_layer": "the teacher tap path, a string or None",
    "student_layer": "the student tap path, a string or None",
}


def _check_reserved(loss):
    """Refuses a loss whose reserved attributes a subclass replaced or never set."""
    values = vars(loss)
    missing = [k for k in _RESERVED if k not in values]
    if missing:
        raise ValueError(
            f"Loss {type(loss).__name__} has no attribute {missing[0]!r}: its __init__ did not call "
            "DistillationLoss.__init__. Fix: call super().__init__(teacher_layer, student_layer, weight=weight, "
            "name=name) in its __init__."
        )
    bad = None
    if not isinstance(values["weight"], Scheduled):
        bad = "weight"
    elif not isinstance(values["name"], str) or not values["name"]:
        bad = "name"
    else:
        taps = ("teacher_layer", "student_layer")
        bad = next((k for k in taps if not isinstance(values[k], (str, type(None)))), None)
    if bad:
        raise ValueError(
            f"Loss {type(loss).__name__} sets self.{bad} = {values[bad]!r}, but `{bad}` is reserved: "
            f"{_RESERVED[bad]}. Fix: store your value under another attribute name (e.g. self.my_{bad})."
        )


def _check_losses(losses, student_loss_weight):
    for loss in losses:
        _check_reserved(loss)
    if not losses and student_loss_weight == 0:
        raise ValueError(
            "Nothing to optimise: `losses` is empty and student_loss_weight=0. Fix: pass distillation losses, "
            "e.g. `losses=[tfkd.losses.SoftLabels()]`, or a student_loss_weight > 0."
        )
    if student_loss_weight == 0 and all(l.weight.is_constant and l.weight.value == 0 for l in losses):
        raise ValueError(
            "All weights are zero (student_loss_weight=0 and every loss weight=0): nothing would be learnt. "
            "Fix: give at least one a weight > 0."
        )
    names = [l.name for l in losses]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Two distillation losses share a name: {names}. Fix: pass `name=` to tell them apart in the metrics."
        )
    taken = sorted(set(names) & {"loss", "student_loss", NONFINITE})
    if taken:
        raise ValueError(
            f"A distillation loss is named {taken[0]!r}, a name the Distiller logs itself. "
            "Fix: pass another `name=` to that loss."
        )


def warn_random_layers(student):
    """Warns when the student holds Keras random-augmentation layers."""
    found = [
        l.name for l in student._flatten_layers(include_self=False, recursive=True) if isinstance(l, _RANDOM_LAYERS)
    ]
    if found:
        warnings.warn(
            f"The student `{student.name}` contains random augmentation layers {found}: in training they show "
            "the student images the teacher never sees, so its soft labels describe another image. Fix: augment "
            "in the input pipeline instead (tfkd.data.Augment with tfkd.data.seeded_epochs), where teacher and "
            "student see the same batch.",
            stacklevel=3,
        )


def check(teacher, student, losses, student_loss_weight, teacher_weights, balance):
    """Checks and normalises the Distiller's arguments.

    Args:
        teacher: as given to `tfkd.Distiller`.
        student: as given to `tfkd.Distiller`.
        losses: as given to `tfkd.Distiller`.
        student_loss_weight: as given to `tfkd.Distiller`.
        teacher_weights: as given to `tfkd.Distiller`.
        balance: as given to `tfkd.Distiller`.

    Returns:
        `(teachers, losses, student_loss_weight, teacher_weights)`: a list
        of teacher models, a list of `DistillationLoss` objects, a float and
        None or a list of floats.

    Raises:
        ValueError: for a model that is not a built `keras.Model`, teachers
            and student with incompatible inputs, nothing to optimise, two
            losses with one name or a reserved name, bad teacher weights or
            an unknown `balance`.

    Example:

    ```python
    teachers, losses, alpha, weights = check(teacher, student, ["soft_labels"], 0.1, None, None)
    ```
    """
    teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
    if not teachers:
        raise ValueError("`teacher` must be a keras.Model or a non-empty list of them.")
    for i, t in enumerate(teachers):
        _check_model(t, "teacher" if len(teachers) == 1 else f"teacher #{i}")
    _check_model(student, "student")
    if isinstance(losses, (losses_lib.DistillationLoss, str)):
        losses = [losses]
    losses = [losses_lib.get(loss) for loss in losses]
    student_loss_weight = finite_number(student_loss_weight, "student_loss_weight")
    _check_losses(losses, student_loss_weight)
    _check_inputs(teachers, student)
    teacher_weights = _check_teacher_weights(teacher_weights, len(teachers))
    if balance not in (None, "initial"):
        raise ValueError(f"`balance` must be None or 'initial', got {balance!r}.")
    return teachers, losses, student_loss_weight, teacher_weights
