"""Every Python block of the README runs as written, in order, in one
session (later blocks reuse the names of earlier ones), from a folder that
holds the shipped teacher as a clone does."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER = "saved_models/fashion_mnist_cnn_teacher.keras"


def _blocks(text):
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    import tfkd

    blocks = _blocks(open(os.path.join(ROOT, "README.md")).read())
    assert len(blocks) == 5, "a README block was added or removed: say here what it must show"
    usage, views, serving, pruning, custom = blocks
    monkeypatch.chdir(tmp_path)  # its exports go under tmp_path/saved_models
    os.makedirs("saved_models")
    os.symlink(os.path.join(ROOT, TEACHER), TEACHER)
    namespace = {}

    exec(compile(usage, "README.md (Usage)", "exec"), namespace)
    history = namespace["history"].history
    assert len(history["loss"]) == 2
    assert history["val_accuracy"][-1] > 0.6, history  # it learns (chance is 0.1)
    assert os.path.exists("saved_models/readme_student/saved_model.pb")
    assert namespace["distiller"].student is namespace["student"]

    exec(compile(views, "README.md (views)", "exec"), namespace)
    matching = namespace["matching"]
    assert int(matching.optimizer.iterations.numpy()) == 2 * namespace["steps"] > 0

    # "Ship it": the int8 export the serving block reads, as the text writes it.
    tfkd.export_student(
        namespace["distiller"],
        "saved_models/fashion_mnist_mlp_kd_int8.tflite",
        format="litert",
        quantize="int8",
        representative_data=namespace["train_ds"],
        check_data=namespace["val_ds"],
    )
    exec(compile(serving, "README.md (serving)", "exec"), namespace)
    logits = namespace["logits"]
    assert logits.shape == (8, 10) and np.isfinite(logits).all()

    exec(compile(pruning, "README.md (pruning)", "exec"), namespace)
    student, teacher = namespace["student"], namespace["teacher"]
    assert 0.2 < student.count_params() / teacher.count_params() < 0.35
    assert student.output_shape == teacher.output_shape

    exec(compile(custom, "README.md (custom loss)", "exec"), namespace)
    custom_distiller = namespace["custom"]
    assert int(custom_distiller.optimizer.iterations.numpy()) > 0
    assert type(custom_distiller.distillation_losses[0]).__name__ == "LogitMSE"
