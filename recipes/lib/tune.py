"""Library side of `recipes/tune.py`: distillation hyper-parameters chosen on
the validation split with KerasTuner (never on the test split)."""

import dataclasses
import json
import os

import keras

from recipes.lib import common
from recipes.lib import config as config_lib
from recipes.lib.methods import TYPICAL_WEIGHT, build_losses
from tfkd import models
from tfkd.distiller import Distiller

# The grid for soft labels: temperature × hard-label weight (alpha = 0 is
# pure distillation, big_vision's setting; 0.1 is Hinton's).
TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
ALPHAS = (0.0, 0.1, 0.5)
# Feature weights are searched on a log scale around the typical weight.
FEATURE_RANGE = (1e-2, 1e1)
# Grids of the logit methods, over Config fields, around the papers'
# settings (the hard-label weight stays the one tuned for kd, except for
# standardized kd, whose paper weights the soft term 9:1 over the labels).
LOGIT_GRIDS = {
    "dkd": {"dkd_temperature": (1.0, 4.0), "dkd_beta": (1.0, 2.0, 8.0)},
    "dist": {"dist_temperature": (1.0, 4.0), "dist_beta": (1.0, 2.0)},  # dist_gamma follows dist_beta
    "kd_std": {"temperature": (1.0, 2.0, 4.0), "alpha": (0.1, 0.5)},
    "crd": {"crd_negatives": (1024, 4096), "crd_weight": (0.8, 2.0)},
}
GRID_METHODS = ("kd", "kd_mixup", *LOGIT_GRIDS)


def _kt():
    try:
        import keras_tuner
    except ImportError as e:  # pragma: no cover - a declared dependency of the recipes
        raise ImportError("recipes/tune.py needs KerasTuner: pip install 'tfkd[recipes]'") from e
    return keras_tuner


def _space(hp, method, grid):
    """The trial's settings for `method`, as Config fields."""
    if method in ("kd", "kd_mixup"):
        return {
            "temperature": hp.Choice("temperature", grid["temperature"]),
            "alpha": hp.Choice("alpha", grid["alpha"]),
        }
    if method in LOGIT_GRIDS:
        values = {k: hp.Choice(k, list(v)) for k, v in LOGIT_GRIDS[method].items()}
        if method == "dist":
            values["dist_gamma"] = values["dist_beta"]
        return values
    typical = TYPICAL_WEIGHT[method]
    return {
        "feature_weight": hp.Float(
            "feature_weight", typical * FEATURE_RANGE[0], typical * FEATURE_RANGE[1], sampling="log"
        )
    }


def _base(config, method):
    """The config a method's trials start from (mixup rows tune with mixup)."""
    if method == "kd_mixup":
        return dataclasses.replace(config, method="kd", mixup=config.mixup or 0.2)
    if method == "kd_std":
        return dataclasses.replace(config, method="kd", standardize=True, mixup=0.0)
    if method in LOGIT_GRIDS:
        return dataclasses.replace(config, method=method, mixup=0.0)
    return dataclasses.replace(config, method=method, mixup=0.0 if method != "kd" else config.mixup)


def tune_method(config, method, teacher_path, max_trials, trial_epochs, directory, grid=None):
    """Searches one method's settings; returns the best values and their
    validation accuracy."""
    grid = grid or {"temperature": TEMPERATURES, "alpha": ALPHAS}
    kt = _kt()
    base = dataclasses.replace(_base(config, method), epochs=trial_epochs, teacher=teacher_path)
    common.set_up(base)
    val, _, spec = common.splits(base)
    teacher = common.load_model(teacher_path)
    kwargs = {"width": base.student_width} if base.student_width else {}

    def distiller(trial_config):
        student = models.get(base.student, **spec, **kwargs)
        losses = build_losses(trial_config, [teacher.name], base.student, *common.train_size(base))
        return Distiller(teacher, student, losses=losses, student_loss_weight=trial_config.alpha)

    # One teacher pass (cached views) serves every trial: only the weights
    # and temperature change, never the teacher or its taps.
    train, steps = common.train_dataset(base, 0, distiller(base))

    class HyperDistiller(kt.HyperModel):
        def build(self, hp):
            trial = dataclasses.replace(base, **_space(hp, method, grid))
            model = distiller(trial)
            model.compile(**common.compile_args(trial, steps))
            return model

        def fit(self, hp, model, *args, **kw):
            return model.fit(*args, **kw)

    tuner_cls = kt.GridSearch if method in GRID_METHODS else kt.RandomSearch
    tuner = tuner_cls(
        HyperDistiller(),
        objective=kt.Objective("val_accuracy", "max"),
        max_trials=max_trials,
        seed=config.seed,
        directory=directory,
        project_name=_project(base, method, grid),
        overwrite=False,
    )
    tuner.search(train, epochs=common.epochs(base), steps_per_epoch=steps, validation_data=val, verbose=0)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    keras.backend.clear_session()
    return {
        **best_trial.hyperparameters.values,
        "val_accuracy": float(best_trial.score),
        "trials": len(tuner.oracle.trials),
        "trial_epochs": trial_epochs,
        **({"grid": {k: list(v) for k, v in grid.items()}} if method in ("kd", "kd_mixup") else {}),
        **({"grid": {k: list(v) for k, v in LOGIT_GRIDS[method].items()}} if method in LOGIT_GRIDS else {}),
    }


def _project(base, method, grid):
    """The KerasTuner project: one per student, method and grid, so a search
    over another grid never resumes this one."""
    name = f"{config_lib.student_key(base)}_{method}"
    if method in ("kd", "kd_mixup") and (tuple(grid["temperature"]), tuple(grid["alpha"])) != (TEMPERATURES, ALPHAS):
        name += (
            "_T" + "-".join(f"{t:g}" for t in grid["temperature"]) + "_a" + "-".join(f"{a:g}" for a in grid["alpha"])
        )
    return name


def run(config, workdir, command=""):
    """`recipes/tune.py`: `search` with a config of `recipes/configs/tune.py`
    (the training fields, `tune_methods`, `max_trials`, `trial_epochs`,
    `temperatures`, `alphas`, `output`).

    Returns:
        `{method: {setting: value, "val_accuracy": float, ...}}`.

    Raises:
        ValueError: as `search`.
    """
    own = ("tune_methods", "max_trials", "trial_epochs", "temperatures", "alphas", "output")
    base = config_lib.training_config(config, workdir, ignore=own)
    methods = [m.strip() for m in config.tune_methods.split(",") if m.strip()]
    return search(
        base,
        methods,
        config.max_trials,
        config.trial_epochs,
        config.output,
        tuple(config.temperatures),
        tuple(config.alphas),
        command=command,
    )


def search(
    config, methods=("kd",), max_trials=12, trial_epochs=8, output="", temperatures=None, alphas=None, command=""
):
    """Tunes each method for `config.student` and records the best settings.

    Resumable: the KerasTuner project under `workdir/tune/` keeps finished
    trials, so a rerun continues the search.

    Args:
        config: a `recipes.lib.config.Config` (`teacher`, `student`,
            `student_width`, schedule, augmentation, cache settings).
        methods: method names (`kd`, `kd_mixup`, `dkd`, `dist`, `kd_std`,
            `crd`, `fitnet`, `at`, `rkd`, `sp`, `pkt`).
        max_trials: trials per method.
        trial_epochs: epochs per trial (shorter than a full run).
        output: a JSON file to merge the results into (keyed by student).
        temperatures, alphas: the soft-label grid (defaults: `TEMPERATURES`
            and `ALPHAS`).
        command: the command line, recorded beside the results.

    Returns:
        `{method: {setting: value, "val_accuracy": float, ...}}`.

    Raises:
        ValueError: for a bad config, no teacher, an unknown method or a bad
            grid value.
    """
    config.validate()
    grid = {"temperature": tuple(temperatures or TEMPERATURES), "alpha": tuple(alphas or ALPHAS)}
    if not all(t > 0 for t in grid["temperature"]) or not all(a >= 0 for a in grid["alpha"]):
        raise ValueError(f"Temperatures must be > 0 and alphas >= 0, got {grid}.")
    if not config.teacher:
        raise ValueError("tune needs --config.teacher=path/to/teacher.keras.")
    common.check_steps_per_execution(config)
    unknown = [m for m in methods if m not in (*GRID_METHODS, *TYPICAL_WEIGHT)]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; expected one of {[*GRID_METHODS, *sorted(TYPICAL_WEIGHT)]}.")
    if config.smoke:
        max_trials, trial_epochs = min(max_trials, 2), 1
    directory = os.path.join(config.workdir, "tune")
    results = {m: tune_method(config, m, config.teacher, max_trials, trial_epochs, directory, grid) for m in methods}
    if command:
        for result in results.values():
            result["command"] = command
    if output:
        key = config_lib.student_key(config)
        merged = {}
        if os.path.exists(output):
            with open(output) as f:
                merged = json.load(f)
        merged.setdefault(key, {}).update(results)
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        common.write_json_atomically(output, merged)
    return results
