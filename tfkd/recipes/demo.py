"""Library side of `recipes/demo.py` (`make demo`): the main job end to end."""

import dataclasses
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from tfkd.export import export_student
from tfkd.recipes import common, distill, train_teacher
from tfkd.recipes.config import Config


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def latency_ms(export_path, input_shape, batch, repeats):
    """Median wall time of one call of the SavedModel's serving signature."""
    serve = tf.saved_model.load(export_path).signatures["serving_default"]
    x = tf.constant(np.random.default_rng(0).random((batch,) + tuple(input_shape)), tf.float32)
    for _ in range(3):
        serve(images=x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        serve(images=x)["logits"].numpy()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run(workdir="workdirs/demo", smoke=False, export_dir="saved_models/fashion_mnist_cnn_small_kd",
        teacher_epochs=3, student_epochs=4, print_fn=print):
    """Teacher, student from scratch, distilled student, export, and a table.

    Args:
        workdir: where runs, checkpoints and logs go; reruns reuse finished
            runs and resume interrupted ones.
        smoke: tiny slices and few steps (tests).
        export_dir: where the distilled student's SavedModel goes. A previous
            demo export there is replaced (and that is said).
        teacher_epochs: epochs of teacher training. Defaults to 3.
        student_epochs: epochs of each student run. Defaults to 4.
        print_fn: where the table goes.

    Returns:
        The table as a list of row dicts.
    """
    base = Config(workdir=workdir, smoke=smoke, epochs=teacher_epochs, batch_size=128)
    teacher = train_teacher.run(dataclasses.replace(base))
    runs = {
        "student (scratch)": distill.run(dataclasses.replace(base, method="scratch", epochs=student_epochs)),
        "student (kd + hint)": distill.run(dataclasses.replace(
            base, method="kd+fitnet", teacher=teacher["path"], epochs=student_epochs, alpha=0.1)),
    }
    exports = os.path.join(workdir, "exports")
    paths = {"teacher": export_student(common.load_model(teacher["path"]), os.path.join(exports, "teacher"), overwrite=True),
             "student (scratch)": export_student(common.load_model(runs["student (scratch)"]["student_path"], "student"),
                                                 os.path.join(exports, "student_scratch"), overwrite=True)}
    if os.path.exists(export_dir) and os.listdir(export_dir):
        print_fn(f"Replacing the previous demo export in {export_dir}.")
    paths["student (kd + hint)"] = export_student(
        common.load_model(runs["student (kd + hint)"]["student_path"], "student"), export_dir, overwrite=True)
    rows = []
    shape = (28, 28, 1)
    for name, result in [("teacher", teacher), *runs.items()]:
        rows.append({
            "model": name, "params": result["params"], "test_accuracy": result["test_accuracy"],
            "savedmodel_mb": _dir_size(paths[name]) / 2**20,
            "latency_b1_ms": latency_ms(paths[name], shape, 1, 5 if smoke else 200),
            "latency_b256_ms": latency_ms(paths[name], shape, 256, 2 if smoke else 30),
        })
    print_fn(format_table(rows))
    print_fn(f"Distilled student exported to {paths['student (kd + hint)']}")
    return rows


def format_table(rows):
    lines = ["| model | parameters | test accuracy | SavedModel | CPU latency, batch 1 | CPU latency, batch 256 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {100 * r['test_accuracy']:.2f}% | {r['savedmodel_mb']:.2f} MB "
                     f"| {r['latency_b1_ms']:.2f} ms | {r['latency_b256_ms']:.1f} ms |")
    return "\n".join(lines)
