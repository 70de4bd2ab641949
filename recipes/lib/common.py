"""What every recipe does: data splits, precision, strategy, callbacks, I/O."""

import csv
import json
import math
import os
import subprocess

import keras
import numpy as np
import tensorflow as tf

from recipes.lib import shipped
from recipes.lib.config import FLIP_SAFE
from tfkd import atomic
from tfkd import data as data_lib
from tfkd.callbacks import AtomicBackupAndRestore
from tfkd.teacher_cache import cache_teacher_views

SMOKE_TRAIN, SMOKE_TEST = 512, 256


def set_up(config):
    """Seeds everything and sets the global precision policy from `config`."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_dtype_policy(config.resolved_precision())


def make_strategy(name):
    """`tf.distribute` strategy by name: default, mirrored or multiworker."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--config.strategy=multiworker needs the TF_CONFIG environment variable (see README, 'Scaling out')."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def split_arrays(config):
    """`{"train", "val", "test"}` -> (x, y) arrays; `val` is held out from the
    training split (seeded, stratified), and the test split is never used for
    training, tuning or early stopping."""
    arrays = data_lib.load_arrays(config.dataset, config.data_dir or None, config.download)
    (x, y), (x_test, y_test) = arrays["train"], arrays["test"]
    (x_tr, y_tr), (x_val, y_val) = data_lib.split_validation(x, y, config.validation_fraction, seed=0)
    if config.smoke:
        x_tr, y_tr, x_val, y_val = x_tr[:SMOKE_TRAIN], y_tr[:SMOKE_TRAIN], x_val[:SMOKE_TEST], y_val[:SMOKE_TEST]
        x_test, y_test = x_test[:SMOKE_TEST], y_test[:SMOKE_TEST]
    if config.train_examples:
        x_tr, y_tr = x_tr[: config.train_examples], y_tr[: config.train_examples]
    return {"train": (x_tr, y_tr), "val": (x_val, y_val), "test": (x_test, y_test)}


def _steps(config):
    return 2 if config.smoke else None


def train_size(config):
    """`(examples, steps per epoch)` of the config's training split."""
    n = int(split_arrays(config)["train"][0].shape[0])
    return n, _steps(config) or math.ceil(n / config.batch_size)


def check_steps_per_execution(config):
    """Refuses a `steps_per_execution` that does not divide an epoch.

    Keras runs whole executions: on the recipes' endless datasets an epoch of
    422 steps at `steps_per_execution=8` would run 424 and shift every
    epoch's end (and the schedule's). Called before any work.

    Raises:
        ValueError: naming the divisors that fit.
    """
    spe = config.steps_per_execution
    steps = train_size(config)[1]
    if spe > 1 and steps % spe:
        fits = [d for d in range(1, min(steps, 64) + 1) if steps % d == 0] + [steps]
        raise ValueError(
            f"--config.steps_per_execution={spe} does not divide the {steps} steps of an epoch (Keras would run "
            f"{math.ceil(steps / spe) * spe}). Fix: use one of {sorted(set(fits))}, or change --config.batch_size."
        )


def worker_index():
    """This process's worker index under TF_CONFIG (0 without one, or for the
    chief), as TensorFlow's own `TFConfigClusterResolver` reads it."""
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        task_type, task_id = resolver.task_type, resolver.task_id
    except ValueError:  # TF_CONFIG that is not JSON: make_strategy reports it
        return 0
    return int(task_id or 0) if task_type in (None, "worker") else 0


def own_folder(workdir):
    """`workdir` for the chief (worker 0); `workdir/worker-<i>` for the other
    workers of a multi-worker run, so no two processes write one file."""
    index = worker_index()
    return workdir if index == 0 else os.path.join(workdir, f"worker-{index}")


def off_strategy(model):
    """A copy of `model` outside any multi-worker strategy, for evaluation
    and saving on each worker (Keras 3.15's evaluate fails under
    MultiWorkerMirroredStrategy); other models are returned as they are."""
    if not isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model
    with tf.distribute.get_strategy().scope():
        copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def splits(config):
    """Validation and test datasets, and the models' `input_shape` /
    `num_classes`. The training split comes from `train_dataset`. With
    mixup, labels are one-hot everywhere, so one categorical loss and
    accuracy serve training and evaluation."""
    arrays = split_arrays(config)
    bs = config.batch_size
    classes = data_lib.NUM_CLASSES[config.dataset]

    def dataset(x, y):
        ds = data_lib.make_dataset(x, y, bs)
        return ds.map(lambda x, y: (x, tf.one_hot(y, classes))) if config.mixup else ds

    return (
        dataset(*arrays["val"]),
        dataset(*arrays["test"]),
        dict(input_shape=arrays["train"][0].shape[1:], num_classes=classes),
    )


def augmentation(config):
    """The `tfkd.data.Augment` the config asks for (None for none): a
    2-pixel shift, a left-right flip where the classes allow it, mixup."""
    if not config.augment and not config.mixup:
        return None
    return data_lib.Augment(
        shift=2 if config.augment else 0,
        flip=config.augment and config.dataset in FLIP_SAFE,
        mixup=config.mixup,
        num_classes=data_lib.NUM_CLASSES[config.dataset],
    )


def train_dataset(config, first_epoch=0, distiller=None):
    """The training split as endless batches whose order depends only on
    (seed, epoch), so a resumed run sees what an uninterrupted one would.

    With `distiller` and `config.cache_teacher`, the teachers' outputs are
    computed once (`tfkd.cache_teacher_outputs`) and travel with the examples.

    Returns:
        `(dataset, steps_per_epoch)` for `fit`.
    """
    x, y = split_arrays(config)["train"]
    x = data_lib.to_float(x) if x.dtype == np.uint8 else x.astype(np.float32)
    examples = (x, y.astype(np.int64))
    augment = augmentation(config)
    if distiller is not None and config.cache_teacher:
        return cache_teacher_views(
            distiller,
            examples,
            config.batch_size,
            seed=config.seed,
            augment=augment,
            views=config.views if augment else 1,
            top_k=config.top_k or None,
            first_epoch=first_epoch,
            steps_per_epoch=_steps(config),
            cache_dir=os.path.join(config.workdir, "teacher_cache") if config.cache_on_disk else None,
        )
    indexed = distiller is not None and any(l.needs_indices for l in distiller.distillation_losses)
    return data_lib.seeded_epochs(
        examples, config.batch_size, config.seed, first_epoch, _steps(config), augment=augment, with_indices=indexed
    )


def resume_epoch(run_dir):
    """Epochs already completed by the run in `run_dir` (0 for a new run)."""
    return AtomicBackupAndRestore.saved_epoch(os.path.join(run_dir, "backup"))


def epochs(config, role="student"):
    """The config's epochs for `role`; at most two in smoke runs (enough to
    test resuming)."""
    n = config.resolved_epochs(role)
    return min(n, 2) if config.smoke else n


def callbacks(run_dir):
    """Resumable training: atomic backups every epoch (student, adapters,
    optimizer, loss scale; never a teacher), TensorBoard logs and the
    per-epoch metrics (`history.csv`, appended across resumes) under
    `run_dir`."""
    os.makedirs(run_dir, exist_ok=True)
    return [
        AtomicBackupAndRestore(os.path.join(run_dir, "backup")),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
    ]


def history(run_dir):
    """The per-epoch metrics of a run from its `history.csv`, every epoch
    once (a resumed run's repeated epoch keeps its last record).

    Returns:
        `{metric: [value per epoch]}`.
    """
    by_epoch = {}
    with open(os.path.join(run_dir, "history.csv")) as f:
        for row in csv.DictReader(f):
            by_epoch[int(row.pop("epoch"))] = row
    metrics = by_epoch[min(by_epoch)].keys() if by_epoch else ()
    return {k: [float(by_epoch[e][k]) for e in sorted(by_epoch)] for k in metrics}


def save_model(model, path):
    """Saves a `.keras` file atomically (temporary file, then rename)."""
    return atomic.write_file(path, model.save, suffix=".keras")


def load_model(path, role="teacher"):
    """Loads a saved `.keras` model with a clear error when it cannot."""
    if not os.path.exists(path):
        raise ValueError(f"The {role} file {path!r} does not exist. Fix: train one with recipes/train_teacher.py.")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:
        raise ValueError(
            f"The {role} file {path!r} could not be loaded ({type(e).__name__}: {str(e)[:200]}). "
            "It may be corrupt or not a Keras model; retrain or re-export it."
        ) from e


def learning_rate(config, steps_per_epoch, role="student"):
    """The peak learning rate, or a Keras schedule: linear warm-up for
    `warmup_epochs`, then cosine decay to 0 at the last step."""
    if config.schedule == "constant":
        return config.learning_rate
    total = max(1, steps_per_epoch * epochs(config, role))
    warmup = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate,
        decay_steps=total - warmup,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def compile_args(config, steps_per_epoch=1, role="student"):
    """Optimizer (Adam, or AdamW with weight decay, on the schedule), the
    hard-label loss (categorical with mixup's one-hot labels), accuracy and
    `config.steps_per_execution` (several steps per graph call: small
    models on a CPU spend most of a step in per-call overhead)."""
    lr = learning_rate(config, steps_per_epoch, role)
    optimizer = (
        keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
        if config.weight_decay
        else keras.optimizers.Adam(lr)
    )
    loss = (
        keras.losses.CategoricalCrossentropy(from_logits=True)
        if config.mixup
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return dict(optimizer=optimizer, loss=loss, metrics=["accuracy"], steps_per_execution=config.steps_per_execution)


def agreement(student, teacher, dataset):
    """Top-1 agreement of two models on a dataset's inputs (Stanton et al.
    2021's distillation fidelity)."""
    same = total = 0
    for x, *_ in dataset:
        a = np.argmax(student(x, training=False), -1)
        b = np.argmax(teacher(x, training=False), -1)
        same += int(np.sum(a == b))
        total += len(a)
    return same / max(total, 1)


def export_once(student, student_path, export_dir, overwrite=False, settings=None, **data):
    """Exports a student once: a rerun whose export is already there (made
    from this very student file with the same settings, as the record
    `<export_dir>.source.json` beside it says) reuses it and says so;
    another export in the way is refused unless `overwrite`.

    Args:
        student: the loaded student model.
        student_path: its `.keras` file (hashed into the record).
        export_dir: the export path (a folder, or a `.tflite` file).
        overwrite: replace another export in the way.
        settings: JSON-able keyword arguments of `tfkd.export_student`
            (format, quantize, ...), part of the record.
        **data: array arguments of `tfkd.export_student` (calibration and
            check data), fixed by the recipe's config.

    Returns:
        The export path.

    Raises:
        FileExistsError: if `export_dir` holds another export and
            `overwrite` is False.
    """
    from tfkd.export import export_student

    settings = dict(settings or {})
    record = os.path.abspath(export_dir) + ".source.json"
    want = {
        "path": os.path.abspath(export_dir),
        "student_sha256": shipped.sha256(student_path),
        "settings": settings,
    }
    if os.path.exists(export_dir) and os.path.exists(record) and not overwrite:
        with open(record) as f:
            if json.load(f) == want:
                print(f"{export_dir} already holds this export (same student file and settings); nothing to do.")
                return os.path.abspath(export_dir)
    if str(export_dir).endswith(".tflite"):
        data = {**data, "metadata": {"commit": commit()}}
    path = export_student(student, export_dir, overwrite=overwrite, **settings, **data)
    write_json_atomically(record, want)
    return path


def write_json_atomically(path, value, indent=1, sort_keys=False):
    """Writes `value` as JSON to `path` through a temporary file and a rename."""
    return atomic.write_json(path, value, indent=indent, sort_keys=sort_keys)


def commit():
    """The git commit of the code that ran (or "unknown")."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    """This machine, as a record says it: processor, cores, accelerators."""
    import platform

    gpus = tf.config.list_physical_devices("GPU")
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            processor = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), processor)
    except OSError:
        pass
    accelerators = f"{len(gpus)} GPU" + ("s" if len(gpus) != 1 else "") if gpus else "no GPU"
    return f"{processor}, {os.cpu_count()} cores, {accelerators}"
