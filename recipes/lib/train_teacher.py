"""Library side of `recipes/train_teacher.py`."""

import dataclasses
import json
import os
import shutil
import time

from absl import logging

from recipes.lib import common, shipped
from recipes.lib import config as config_lib
from recipes.lib.config import Config
from tfkd import models


def run(config, workdir=None):
    """Trains the reference teacher, or reuses the one already in `workdir`.

    Training resumes from the last epoch when rerun with the same workdir.

    Args:
        config: a `recipes.lib.config.Config` (`teacher_model`, data, ...),
            or a config of `recipes/configs/train_teacher.py`.
        workdir: output folder. Defaults to `config.workdir`.

    Returns:
        `{"path": <teacher.keras>, "test_accuracy": float, "params": int}`.

    Raises:
        ValueError: for a bad config (before any training).
    """
    config = config_lib.training_config(config, workdir)
    workdir = config.workdir
    # First: a multi-worker strategy must exist before TensorFlow runs anything.
    strategy = common.make_strategy(config.strategy)
    common.set_up(config)
    path = os.path.join(common.own_folder(workdir), "teacher.keras")
    val, test, spec = common.splits(config)
    common.check_steps_per_execution(config)
    if os.path.exists(path):
        logging.info("Reusing the teacher in %s", path)
        model = common.load_model(path)
        with strategy.scope():
            model.compile(**common.compile_args(config))
    else:
        run_dir = os.path.join(common.own_folder(workdir), "teacher_run")
        train, steps = common.train_dataset(config, common.resume_epoch(run_dir))
        with strategy.scope():
            model = models.get(config.teacher_model, **spec)
            model.compile(**common.compile_args(config, steps, role="teacher"))
        start = time.perf_counter()
        model.fit(
            train,
            validation_data=val,
            epochs=common.epochs(config, "teacher"),
            steps_per_epoch=steps,
            callbacks=common.callbacks(run_dir),
            verbose=2,
        )
        common.save_model(model, path)
        # Seconds of this invocation (a resumed run counts its last part only).
        with open(os.path.join(run_dir, "train_seconds.json"), "w") as f:
            json.dump({"seconds": round(time.perf_counter() - start)}, f)
    _, accuracy = model.evaluate(test, verbose=0)
    result = {"path": path, "test_accuracy": float(accuracy), "params": model.count_params()}
    if config.ship_to:
        result["shipped"] = ship(result, config, os.path.join(common.own_folder(workdir), "teacher_run"))
    return result


def ship(result, config, run_dir):
    """Copies the teacher to `config.ship_to` with a JSON record beside it:
    the command, commit, seed, test accuracy, training time and sha256."""
    target = config.ship_to
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    shutil.copyfile(result["path"], target + ".tmp")
    os.replace(target + ".tmp", target)
    seconds = None
    if os.path.exists(os.path.join(run_dir, "train_seconds.json")):
        with open(os.path.join(run_dir, "train_seconds.json")) as f:
            seconds = json.load(f)["seconds"]
    record = {
        "command": command(config),
        "commit": common.commit(),
        "seed": config.seed,
        "model": config.teacher_model,
        "epochs": config.resolved_epochs("teacher"),
        "test_accuracy": result["test_accuracy"],
        "params": result["params"],
        "train_seconds": seconds,
        "machine": common.machine(),
        "sha256": shipped.sha256(target),
    }
    common.write_json_atomically(os.path.splitext(target)[0] + ".json", record)
    return target


def command(config):
    """The command line that trains this teacher: `--config.<field>=` for
    every setting that differs from the defaults, then `--workdir`."""
    default = dataclasses.asdict(Config())
    flags = []
    for key, value in dataclasses.asdict(config).items():
        if key == "workdir" or value == default[key]:
            continue
        if isinstance(value, (tuple, list)):
            value = ",".join(map(str, value))
        flags.append(f"--config.{key}={value}")
    return " ".join(["python recipes/train_teacher.py", *flags, f"--workdir={config.workdir}"])
