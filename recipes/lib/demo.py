"""Library side of `recipes/demo.py` (`make demo`): the main job end to end."""

import dataclasses
import json
import os

from recipes.lib import common, distill, shipped, train_teacher
from recipes.lib.config import Config

# The demo's student and settings: the reference MLP student, trained the
# same way from scratch and with soft labels (settings from tune.py on the
# validation split, recipes/results/tuned.json).
STUDENT = dict(student="mlp_small", student_width=128, augment=False)
EPOCHS = 60  # patience: soft labels keep paying after scratch has overfit (docs/results.md)


def run(
    workdir="workdirs/demo",
    smoke=False,
    export_dir="saved_models/fashion_mnist_mlp_kd_int8.tflite",
    epochs=EPOCHS,
    print_fn=print,
):
    """Teacher (the shipped one), student from scratch, distilled student,
    int8 LiteRT export of the distilled student, and a table.

    Args:
        workdir: where runs, checkpoints and logs go; reruns reuse finished
            runs and resume interrupted ones.
        smoke: tiny slices and few steps (tests).
        export_dir: the distilled student's int8 LiteRT file. A previous demo
            export there is replaced (and that is said).
        epochs: epochs of each student run (the same for both).
        print_fn: where the table goes.

    Returns:
        The table as a list of row dicts.
    """
    base = Config(workdir=workdir, smoke=smoke, epochs=epochs, **STUDENT)
    teacher_path = shipped.teacher_path()
    if smoke or not os.path.exists(teacher_path):
        teacher_path = train_teacher.run(dataclasses.replace(base, epochs=0))["path"]
    kd = shipped.tuned(base, "kd")
    runs = {
        "student, from scratch": distill.run(
            dataclasses.replace(base, method="scratch", reference_teacher=teacher_path)
        ),
        "student, distilled (kd)": distill.run(
            dataclasses.replace(kd, method="kd", teacher=teacher_path, cache_teacher=True, views=1)
        ),
    }
    teacher = common.load_model(teacher_path)
    _, test, _ = common.splits(base)
    teacher.compile(**{k: v for k, v in common.compile_args(base).items() if k != "optimizer"})
    rows = [
        {
            "model": "teacher (cnn_teacher)",
            "params": teacher.count_params(),
            "test_accuracy": float(teacher.evaluate(test, verbose=0)[1]),
            "agreement": 1.0,
        }
    ]
    for name, result in runs.items():
        rows.append(
            {
                "model": name,
                "params": result["params"],
                "test_accuracy": result["test_accuracy"],
                "agreement": result.get("agreement"),
            }
        )
    if os.path.exists(export_dir):
        print_fn(f"Replacing the previous demo export {export_dir}.")
    from recipes.lib import export

    path = export.run(
        dataclasses.replace(base, export_dir=export_dir, overwrite=True),
        runs["student, distilled (kd)"]["student_path"],
        format="litert",
        quantize="int8",
        max_accuracy_drop=None if smoke else 0.5,
    )
    with open(os.path.splitext(path)[0] + ".json") as f:
        report = json.load(f)
    from recipes.lib.evaluate import accuracy_of

    arrays = common.split_arrays(base)
    x, y = arrays["test"]
    rows.append(
        {
            "model": "student, distilled, int8 LiteRT",
            "params": rows[-1]["params"],
            "test_accuracy": accuracy_of(path, (x.astype("float32") / 255.0, y)),
            "agreement": None,
            "bytes": report["size_bytes"],
        }
    )
    print_fn(format_table(rows, epochs))
    scratch, kd_row = rows[1]["test_accuracy"], rows[2]["test_accuracy"]
    print_fn(
        f"Distillation: {100 * (kd_row - scratch):+.2f} points over the same student trained from scratch "
        f"for the same {epochs} epochs; its int8 LiteRT file ({report['size_bytes'] / 1024:.0f} KiB) scores "
        f"{100 * rows[3]['test_accuracy']:.2f}%. Exported to {path}"
    )
    return rows


def format_table(rows, epochs):
    lines = [
        f"Fashion-MNIST test split (10,000 images); students: {epochs} epochs each, same schedule.",
        "",
        "| model | parameters | test accuracy | agreement with teacher |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        agree = "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}%"
        lines.append(f"| {r['model']} | {r['params']:,} | {100 * r['test_accuracy']:.2f}% | {agree} |")
    return "\n".join(lines)
