"""Library side of `recipes/train_teacher.py`."""

import os

from absl import logging

from tfkd import models
from tfkd.recipes import common


def run(config, workdir=None):
    """Trains the reference teacher, or reuses the one already in `workdir`.

    Training resumes from the last epoch when rerun with the same workdir.

    Args:
        config: a `tfkd.recipes.config.Config` (`teacher_model`, data, ...).
        workdir: output folder. Defaults to `config.workdir`.

    Returns:
        `{"path": <teacher.keras>, "test_accuracy": float, "params": int}`.

    Raises:
        ValueError: for a bad config (before any training).
    """
    workdir = workdir or config.workdir
    config.workdir = workdir
    config.validate()
    # First: a multi-worker strategy must exist before TensorFlow runs anything.
    strategy = common.make_strategy(config.strategy)
    common.set_up(config)
    path = os.path.join(common.own_folder(workdir), "teacher.keras")
    val, test, spec = common.splits(config)
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
        model.fit(
            train,
            validation_data=val,
            epochs=common.epochs(config, "teacher"),
            steps_per_epoch=steps,
            callbacks=common.callbacks(run_dir),
            verbose=2,
        )
        common.save_model(model, path)
    _, accuracy = model.evaluate(test, verbose=0)
    return {"path": path, "test_accuracy": float(accuracy), "params": model.count_params()}
