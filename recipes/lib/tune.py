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
# settings (the hard-label weight stays the one tuned for kd, except with
# logit standardization, whose paper weights the soft term 9:1 over the
# labels: standardized logits give a smaller loss at the same temperature).
LOGIT_GRIDS = {
    "dkd": {"dkd_temperature": (1.0, 4.0), "dkd_beta": (1.0, 2.0, 8.0)},
    "dist": {"dist_temperature": (1.0, 4.0), "dist_beta": (1.0, 2.0)},  # dist_gamma follows dist_beta
    "kd_std": {"temperature": (1.0, 2.0, 4.0), "alpha": (0.1, 0.5)},
    # DKD on standardized logits (Sun et al. 2024 apply it on top of DKD).
    "dkd_std": {"dkd_temperature": (1.0, 4.0), "dkd_beta": (1.0, 2.0, 8.0), "alpha": (0.1, 0.5)},
    "crd": {"crd_negatives": (1024, 4096), "crd_weight": (0.8, 2.0)},
}
# The logit methods searched in the setting of their '+mixup' rows: the
# method's own grid on mixup views (`config.mixup`, 0.2 when unset) from the
# config's teachers (several: their ensemble) with its cached views.
MIXUP_LOGIT = tuple(f"{m}_mixup" for m in ("dkd", "dist", "kd_std", "dkd_std"))
GRID_METHODS = ("kd", "kd_mixup", *LOGIT_GRIDS, *MIXUP_LOGIT)


def _logit_grid(method):
    """The grid of a logit method (`dist` and `dist_mixup` share one); None
    for the other methods."""
    return LOGIT_GRIDS.get(method.removesuffix("_mixup"))


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
    if _logit_grid(method):
        values = {k: hp.Choice(k, list(v)) for k, v in _logit_grid(method).items()}
        if method.startswith("dist"):
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
    mixup = (config.mixup or 0.2) if method.endswith("_mixup") else 0.0
    if method == "kd_mixup":
        return dataclasses.replace(config, method="kd", mixup=mixup)
    if method in ("kd_std", "kd_std_mixup"):
        return dataclasses.replace(config, method="kd", standardize=True, mixup=mixup)
    if method in ("dkd_std", "dkd_std_mixup"):
        return dataclasses.replace(config, method="dkd", standardize=True, mixup=mixup)
    if _logit_grid(method):
        return dataclasses.replace(config, method=method.removesuffix("_mixup"), mixup=mixup)
    return dataclasses.replace(config, method=method, mixup=0.0 if method != "kd" else config.mixup)


def tune_method(config, method, teacher_path, max_trials, trial_epochs, directory, grid=None):
    """Searches one method's settings; returns the best values and their
    validation accuracy (with `config.teachers`, of their ensemble)."""
    grid = grid or {"temperature": TEMPERATURES, "alpha": ALPHAS}
    kt = _kt()
    base = dataclasses.replace(_base(config, method), epochs=trial_epochs, teacher=teacher_path)
    common.set_up(base)
    val, _, spec = common.splits(base)
    teachers = [common.load_model(p) for p in (base.teachers or (teacher_path,))]
    kwargs = {"width": base.student_width} if base.student_width else {}

    def distiller(trial_config):
        student = models.get(base.student, **spec, **kwargs)
        losses = build_losses(trial_config, [t.name for t in teachers], base.student, *common.train_size(base))
        teacher = teachers if len(teachers) > 1 else teachers[0]
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
        **({"grid": {k: list(v) for k, v in _logit_grid(method).items()}} if _logit_grid(method) else {}),
        # Under its own key: these are Config fields, which tuned_config would
        # otherwise apply to every run that takes this search's settings.
        **(
            {"setting": {"teachers": len(teachers), "mixup": base.mixup, "views": base.views}}
            if method in MIXUP_LOGIT
            else {}
        ),
    }


def _project(base, method, grid):
    """The KerasTuner project: one per student, method, grid, teachers and
    views, so a search in another setting never resumes this one."""
    name = f"{config_lib.student_key(base)}_{method}"
    if len(base.teachers) > 1:
        name += f"_t{len(base.teachers)}"
    if base.mixup and base.views > 1:
        name += f"_v{base.views}"
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
            `crd`, `fitnet`, `at`, `rkd`, `sp`, `pkt`, `dkd_std` (DKD on
            standardized logits); `dkd_mixup`, `dist_mixup`, `kd_std_mixup`
            and `dkd_std_mixup` search a logit method's grid on mixup
            views, from `config.teachers` when set).
        max_trials: trials per method.
        trial_epochs: epochs per trial (shorter than a full run).
        output: a JSON file to merge the results into (keyed by student).
        temperatures, alphas: the soft-label grid (defaults: `TEMPERATURES`
            and `ALPHAS`).
        command: the command line, recorded beside the results with the
            commit of the code that ran.

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
    if not (config.teacher or config.teachers):
        raise ValueError("tune needs --config.teacher=path/to/teacher.keras (or --config.teachers=a.keras,b.keras).")
    common.check_steps_per_execution(config)
    unknown = [m for m in methods if m not in (*GRID_METHODS, *TYPICAL_WEIGHT)]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; expected one of {[*GRID_METHODS, *sorted(TYPICAL_WEIGHT)]}.")
    if config.smoke:
        max_trials, trial_epochs = min(max_trials, 2), 1
    directory = os.path.join(config.workdir, "tune")
    results = {
        m: tune_method(config, m, config.teacher or config.teachers[0], max_trials, trial_epochs, directory, grid)
        for m in methods
    }
    if command:
        for result in results.values():
            result["command"] = command
            result["commit"] = common.commit()
    if output:
        key = config_lib.student_key(config)
        merged = {}
        if os.path.exists(output):
            with open(output) as f:
                merged = json.load(f)
        merged.setdefault(key, {}).update(results)
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        # The layout of the committed recipes/results/tuned.json: a search's
        # diff shows only what it changed.
        common.write_json_atomically(output, merged, indent=2, sort_keys=True)
    return results
