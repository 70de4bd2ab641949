"""absl flags generated from `Config`, so every script takes the same flags."""

import dataclasses
import os
import sys

from absl import app, flags

from recipes.lib.config import Config

_HELP = {
    "dataset": "fashion_mnist (default), mnist, cifar10, cifar100 or digits.",
    "teacher": "A saved teacher (.keras); recipes/train_teacher.py writes one.",
    "teachers": "Several saved teachers for multi-teacher kd (comma-separated).",
    "student": "Student builder: cnn_small, mlp_small, resnet8x4, wrn_16_2, ...",
    "method": "kd, dkd, dist, crd, fitnet, at, rkd, sp, pkt, scratch, or a combination like kd+at or kd+crd.",
    "alpha": "Weight of the hard-label loss.",
    "hints": "teacher_layer:student_layer pairs for fitnet (comma-separated).",
    "precision": "float32, mixed_float16 or mixed_bfloat16 (default: mixed_float16 on a GPU, float32 on a CPU).",
    "cache_teacher": "Run the teachers once over the training split and replay their outputs every epoch.",
    "smoke": "A few steps on a small slice (tests).",
}


def define_config_flags(skip=()):
    """Defines one flag per `Config` field (lists for tuple fields)."""
    define_dataclass_flags(Config, _HELP, skip)


def define_dataclass_flags(cls, helps, skip=()):
    """Defines one absl flag per field of the dataclass `cls`: bool, int,
    float, list (for tuple fields) or string, with help from `helps`."""
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        help_ = helps.get(field.name, field.name.replace("_", " ") + ".")
        default = field.default
        if isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, help_)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, help_)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, help_)
        elif isinstance(default, tuple):
            flags.DEFINE_list(field.name, [str(v) for v in default], help_)
        else:
            flags.DEFINE_string(field.name, default, help_)


def config_from_flags(argv, skip=()):
    """Builds a validated `Config`; stray arguments and bad values stop the
    script with a one-line message before any work."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    values = {}
    for field in dataclasses.fields(Config):
        if field.name in skip:
            continue
        value = flags.FLAGS[field.name].value
        values[field.name] = tuple(value) if isinstance(field.default, tuple) else value
    try:
        return Config(**values).validate()
    except ValueError as e:
        raise app.UsageError(str(e)) from None


# What a recipe's own checks raise: printed as one line, without absl's flag help.
RECIPE_ERRORS = (app.UsageError, ValueError, FileExistsError, RuntimeError)


def run(main):
    """`absl.app.run(main)`, with every recipe error printed on one line.

    A bad flag value, an export in the way or a failed check stops the
    script with `<script>: error: <message>` on stderr and exit status 2
    (usage) or 1 (anything else), not behind absl's page of flag help.

    Args:
        main: the recipe's `main(argv)`.
    """

    def one_line_errors(argv):
        try:
            return main(argv)
        except RECIPE_ERRORS as e:
            name = os.path.basename(sys.argv[0]) or "recipe"
            print(f"{name}: error: {e}", file=sys.stderr)
            sys.exit(2 if isinstance(e, app.UsageError) else 1)

    app.run(one_line_errors)
