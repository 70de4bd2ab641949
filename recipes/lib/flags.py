"""The two flags of every recipe: `--config` (an `ml_collections` config
file from `recipes/configs/`, with `--config.<field>=...` overrides) and
`--workdir`; and one-line errors."""

import os
import re
import sys

from absl import app, flags
from ml_collections import config_flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
CONFIGS = os.path.join(ROOT, "recipes", "configs")


def define(recipe):
    """Defines `--config` and `--workdir` for `recipes/<recipe>.py`.

    `--config` defaults to `recipes/configs/<recipe>.py`; a variant is named
    after a colon (`--config=recipes/configs/distill.py:mlp_kd`) and any
    field is overridden with `--config.<field>=<value>`. `--workdir`
    defaults to `workdirs/<recipe>`.

    Args:
        recipe: the recipe's name (its file name without `.py`).
    """
    try:  # config_flags reads the overrides in sys.argv here already
        config_flags.DEFINE_config_file(
            "config",
            os.path.join(CONFIGS, f"{recipe}.py"),
            f"The config file (default recipes/configs/{recipe}.py), ':<variant>' after it; its docstring lists "
            "the variants. Override fields with --config.<field>=<value>.",
            lock_config=True,
        )
    except FLAG_ERRORS as e:
        _stop(e)
    flags.DEFINE_string("workdir", f"workdirs/{recipe}", "Where runs, checkpoints, logs and tables go.")


def parse(argv):
    """`(config, workdir)` from the parsed flags; stray arguments stop the
    script with a one-line message before any work."""
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = flags.FLAGS.config.copy_and_resolve_references()
    except OSError as e:  # config_flags defers a file it could not load to the first use
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise app.UsageError(f"--config could not be loaded: {lines[-1]}") from None
    return config, flags.FLAGS.workdir


# What a recipe's own checks raise: printed as one line, without absl's flag help.
RECIPE_ERRORS = (app.UsageError, ValueError, FileExistsError, RuntimeError)


def run(main):
    """`absl.app.run(main)`, with every recipe error printed on one line.

    A bad flag or config value, an export in the way or a failed check
    stops the script with `<script>: error: <message>` on stderr and exit
    status 2 (bad flags, configs or inputs: `UsageError`, `ValueError`) or
    1 (an export in the way, a failed check), not behind absl's page of
    flag help.

    Args:
        main: the recipe's `main(argv)`.
    """

    name = os.path.basename(sys.argv[0]) or "recipe"

    def one_line_errors(argv):
        try:
            return main(argv)
        except RECIPE_ERRORS as e:
            print(f"{name}: error: {e}", file=sys.stderr)
            sys.exit(2 if isinstance(e, (app.UsageError, ValueError)) else 1)

    def parse_flags(argv):
        try:
            return flags.FLAGS(argv)
        except FLAG_ERRORS as e:
            _stop(e)

    app.run(one_line_errors, flags_parser=parse_flags)


# What parsing `--config` and its overrides raises.
FLAG_ERRORS = (flags.Error, AttributeError, KeyError, TypeError, ValueError)


def _stop(error):
    name = os.path.basename(sys.argv[0]) or "recipe"
    print(f"{name}: error: {_flag_error(error)}", file=sys.stderr)
    sys.exit(2)


def _flag_error(error):
    """One line for a bad flag: a misspelt `--config.<field>` (with the
    field it resembles), a bad value, or the config file's own error (the
    last line of the traceback config_flags wraps it in)."""
    text = str(error.args[0]) if error.args else str(error)
    if isinstance(error, (AttributeError, KeyError)):
        field = re.findall(r"[A-Za-z_]\w*", text.replace("\\n", " "))
        hint = re.search(r'Did you mean "([^"]+)"', text)
        return f"the config has no field {field[0] if field else text!r}" + (
            f'; did you mean "{hint.group(1)}"?' if hint else "."
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line for line in lines if line.split(":", 1)[0].endswith("Error")]
    return raised[-1].split(":", 1)[1].strip() if raised else " ".join(lines)
