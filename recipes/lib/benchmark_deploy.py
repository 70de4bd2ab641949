"""Library side of `recipes/benchmark_deploy.py`: each model in every
deployable format, with file size, batch-1 latency, accuracy and agreement."""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from recipes.lib import benchmark_accuracy, common, measure, shipped
from recipes.lib.accuracy_rows import STUDENTS
from recipes.lib.config import Config
from recipes.lib.export import CALIBRATION_EXAMPLES
from tfkd.export import export_student

# (row label, format, quantize, extra export_student arguments)
FORMATS = (
    ("SavedModel", "saved_model", None, {}),
    ("LiteRT float32", "litert", None, {}),
    ("LiteRT float16", "litert", "float16", {}),
    ("LiteRT dynamic", "litert", "dynamic", {}),
    ("LiteRT int8", "litert", "int8", {}),
    ("LiteRT int8, float logits", "litert", "int8", {"float_logits": True}),
    ("LiteRT int16x8", "litert", "int16x8", {}),
)


def default_models(benchmark_workdir="workdirs/benchmark_accuracy", seed=0):
    """The shipped teacher and, from the accuracy benchmark's workdir, each
    reference student trained from scratch and by kd (seed 0)."""

    found = {"teacher": shipped.teacher_path()}
    for result in benchmark_accuracy.run_results(benchmark_workdir):
        identity = result["identity"]
        student, row = identity["student"], identity["row"]
        # The reference width only (the compression curve's other widths sit beside it).
        if (
            student in STUDENTS
            and row in ("scratch", "kd")
            and result["seed"] == seed
            and identity["width"] in (0, STUDENTS[student]["student_width"])
            and identity["precision"] == "float32"
            and not identity["examples"]
        ):
            found[f"{student}_{row}"] = result["student_path"]
    return found


def single_thread():
    """Pins TensorFlow to one thread (only possible before it starts);
    returns whether it worked."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return True
    except RuntimeError:
        return False


def run(config, workdir, print_fn=print):
    """`recipes/benchmark_deploy.py`: `deploy` with a config of
    `recipes/configs/benchmark_deploy.py` (`models`, `benchmark_workdir`,
    `repeats`, `smoke`).

    Returns:
        The rows, one dict per (model, format).

    Raises:
        ValueError: for a malformed `models` entry.
    """
    models = {}
    for pair in (p.strip() for p in config.models.split(",") if p.strip()):
        name, _, path = pair.partition("=")
        if not name or not path:
            raise ValueError(f"--config.models entry {pair!r} must be name=path.keras.")
        models[name] = path
    models = models or default_models(config.benchmark_workdir)
    if config.repeats < 1:
        raise ValueError(f"--config.repeats must be >= 1, got {config.repeats}.")
    data = Config(smoke=config.smoke, workdir=workdir).validate()
    return deploy(data, models, workdir, config.repeats, print_fn)


def deploy(config, models, workdir, repeats=200, print_fn=print):
    """Exports each model in every format and measures it.

    Args:
        config: a `recipes.lib.config.Config` (dataset, smoke).
        models: `{row name: path to a .keras model}`.
        workdir: where the exports, `deploy.md` and `deploy.json` go.
        repeats: timed batch-1 calls per export (after 20 warm-up calls).
        print_fn: where the table goes.

    Returns:
        The rows, one dict per (model, format).
    """
    arrays = common.split_arrays(config)
    to_float = lambda x: x.astype(np.float32) / 255.0
    calib = to_float(arrays["train"][0][:CALIBRATION_EXAMPLES])
    val = (to_float(arrays["val"][0]), arrays["val"][1])
    x_test, y_test = to_float(arrays["test"][0]), arrays["test"][1]
    rows = []
    for name, model_path in models.items():
        model = common.load_model(model_path, "model")
        reference = np.argmax(model.predict(x_test, batch_size=512, verbose=0), -1)
        float32_lite = None
        for label, fmt, quantize, extra in FORMATS:
            suffix = "_float_logits" if extra.get("float_logits") else ""
            out = os.path.join(
                workdir, "exports", f"{name}_{quantize or 'float32'}{suffix}" + (".tflite" if fmt == "litert" else "")
            )
            if os.path.exists(out):
                shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
            kwargs = dict(representative_data=calib, check_data=val, max_accuracy_drop=None) if fmt == "litert" else {}
            kwargs.update(extra)
            path = export_student(model, out, format=fmt, quantize=quantize, overwrite=True, **kwargs)
            predict, one = measure.runner(path)
            pred = np.argmax(predict(x_test), -1)
            row = {
                "model": name,
                "format": label,
                "bytes": measure.size_bytes(path),
                "latency_ms": measure.median_ms(one, repeats),
                "test_accuracy": float(np.mean(pred == y_test)),
                "agreement": float(np.mean(pred == reference)),
                "params": model.count_params(),
            }
            if label == "LiteRT float32":
                float32_lite = row["bytes"]
            row["size_ratio"] = float32_lite / row["bytes"] if float32_lite and fmt == "litert" else None
            rows.append(row)
    table = format_table(rows)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "deploy.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(workdir, "deploy.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print_fn(table)
    return rows


def format_table(rows):
    lines = [
        "| model | format | file size | vs float32 LiteRT | batch-1 latency (1 thread) | test accuracy | "
        "agreement with float32 Keras |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r['size_ratio']:.2f}× smaller" if r["size_ratio"] and r["format"] != "LiteRT float32" else ""
        lines.append(
            f"| {r['model']} | {r['format']} | {r['bytes'] / 1024:,.1f} KiB | {ratio} | "
            f"{r['latency_ms']:.3f} ms | {100 * r['test_accuracy']:.2f}% | {100 * r['agreement']:.2f}% |"
        )
    return "\n".join(lines)
