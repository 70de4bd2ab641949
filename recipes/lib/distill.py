"""Library side of `recipes/distill.py`: distil (or train from scratch) a
student, resumably, and optionally export it."""

import dataclasses
import json
import os

import keras

from recipes.lib import common
from recipes.lib import config as config_lib
from recipes.lib.methods import build_losses
from tfkd import models
from tfkd.distiller import Distiller


def run_name(config):
    width = f"_w{config.student_width}" if config.student_width else ""
    student = os.path.splitext(os.path.basename(config.student_init))[0] if config.student_init else config.student
    return f"{student}{width}_{config.method.replace('+', '-')}_s{config.seed}"


# Settings that do not change what a run trains.
_NOT_RUN_SETTINGS = (
    "workdir",
    "export_dir",
    "overwrite",
    "strategy",
    "cache_on_disk",
    "ship_to",
    "steps_per_execution",
)


def _settings(config):
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(config).items()
        if k not in _NOT_RUN_SETTINGS
    }


def _check_same_settings(saved, wanted, run_dir):
    """Refuses to reuse a finished run made with other settings."""
    if saved is None:  # a run recorded before settings were
        return
    # A setting added after the run was recorded counts as its default.
    defaults = _settings(config_lib.Config())
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    diff = sorted(k for k in wanted if saved.get(k) != wanted[k])
    if diff:
        pairs = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted[k]!r}" for k in diff[:4])
        raise ValueError(
            f"{run_dir} holds a finished run with other settings ({pairs}). Fix: pass another --workdir, or "
            "remove that folder to train again."
        )


def run(config, workdir=None, extra_callbacks=(), identity=None):
    """Trains `config.student` with `config.method` and reports test accuracy.

    `method="scratch"` trains the student on hard labels alone. The run's
    folder `workdir/<student>_<method>_s<seed>/` holds TensorBoard logs, the
    backup that makes a rerun resume, `student.keras` and `result.json`; a
    finished run is not retrained.

    Args:
        config: a `recipes.lib.config.Config`, or a config of
            `recipes/configs/distill.py`.
        workdir: output folder. Defaults to `config.workdir`.
        extra_callbacks: more Keras callbacks for `fit`.
        identity: JSON-able facts naming the run for whoever collects the
            results (e.g. a benchmark's row and student), kept in its
            `result.json` under `"identity"`.

    Returns:
        A dict with `test_accuracy`, `params`, `student_path` (and
        `export_path` when `config.export_dir` is set).

    Raises:
        ValueError: for a bad config, a missing or corrupt teacher file, or a
            hint naming a missing layer, before any training.
    """
    config = config_lib.training_config(config, workdir)
    workdir = config.workdir
    # First: a multi-worker strategy must exist before TensorFlow runs anything.
    strategy = common.make_strategy(config.strategy)
    common.set_up(config)
    run_dir = os.path.join(common.own_folder(workdir), run_name(config))
    result_path = os.path.join(run_dir, "result.json")
    student_path = os.path.join(run_dir, "student.keras")
    val, test, spec = common.splits(config)
    common.check_steps_per_execution(config)
    distil = config.methods() != ["scratch"]
    teacher_paths = list(config.teachers) or ([config.teacher] if config.teacher else [])
    if distil and not teacher_paths:
        raise ValueError(
            "--config.method needs a teacher: pass --config.teacher=path/to/teacher.keras "
            "(recipes/train_teacher.py writes one)."
        )

    if os.path.exists(result_path) and os.path.exists(student_path):
        with open(result_path) as f:
            result = json.load(f)
        _check_same_settings(result.get("settings"), _settings(config), run_dir)
        student = common.load_model(student_path, "student")
    else:
        with strategy.scope():
            kwargs = {"width": config.student_width} if config.student_width else {}
            if config.student_init:
                student = common.load_model(config.student_init, "student")
            else:
                student = models.get(config.student, **spec, **kwargs)
            teachers = [common.load_model(p) for p in teacher_paths] if distil else []
            if distil:
                model = Distiller(
                    teachers if len(teachers) > 1 else teachers[0],
                    student,
                    losses=build_losses(config, [t.name for t in teachers], config.student, *common.train_size(config)),
                    student_loss_weight=config.alpha,
                )
            else:
                model = student
        train, steps = common.train_dataset(config, common.resume_epoch(run_dir), model if distil else None)
        with strategy.scope():
            model.compile(**common.compile_args(config, steps))
        model.fit(
            train,
            validation_data=val,
            epochs=common.epochs(config),
            steps_per_epoch=steps,
            callbacks=common.callbacks(run_dir) + list(extra_callbacks),
            verbose=2,
        )
        student = common.off_strategy(student)
        student.compile(**{k: v for k, v in common.compile_args(config).items() if k != "optimizer"})
        _, accuracy = student.evaluate(test, verbose=0)
        _, val_accuracy = student.evaluate(val, verbose=0)
        common.save_model(student, student_path)
        result = {
            "test_accuracy": float(accuracy),
            "val_accuracy": float(val_accuracy),
            "params": student.count_params(),
            "method": config.method,
            "student": config.student,
            "seed": config.seed,
            # Every epoch, those before a resume included.
            "history": common.history(run_dir),
            "settings": _settings(config),
        }
        reference = teacher_paths[0] if teacher_paths else config.reference_teacher
        if reference:
            result["agreement"] = common.agreement(student, common.load_model(reference), test)
        with open(result_path, "w") as f:
            json.dump(result, f)
    if identity is not None and result.get("identity") != identity:
        result["identity"] = identity
        common.write_json_atomically(result_path, {k: v for k, v in result.items() if k != "student_path"})
    result["student_path"] = student_path
    if config.export_dir and common.worker_index() == 0:
        result["export_path"] = common.export_once(student, student_path, config.export_dir, config.overwrite)
    keras.mixed_precision.set_dtype_policy("float32")
    return result
