"""Library side of `recipes/demo.py` (`make demo`): the main job end to end."""

import dataclasses
import json
import os
import statistics

from recipes.lib import common, compress, distill, export, measure, shipped, train_teacher
from recipes.lib.config import Config
from recipes.lib.evaluate import accuracy_of

SCRATCH, DISTILLED = "student, from scratch", "student, distilled (kd)"


def _mean_std(values):
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def run(config, workdir, print_fn=print):
    """Teacher (the shipped one), the student from scratch and distilled
    over several seeds, the seed-0 distilled student exported as a
    SavedModel and as an int8 LiteRT file, the teacher cut and distilled
    (then int8), and a table.

    Args:
        config: `recipes/configs/demo.py`'s config: the student (`student`,
            `student_width`, `augment`), `epochs` and `seeds` (paired
            scratch and kd runs), the soft-label `temperature` and `alpha`,
            the exports (`export_dir`: int8 LiteRT, `saved_model_dir`,
            `compress_export`; a previous demo export there is replaced,
            and that is said), `compress_keep`, `compress_epochs`, `smoke`.
        workdir: where runs, checkpoints and logs go; reruns reuse finished
            runs and resume interrupted ones.
        print_fn: where the table goes.

    Returns:
        The table as a list of row dicts (students: mean over the seeds,
        with `test_accuracies` per seed and `std`).
    """
    smoke, epochs, seeds = config.smoke, config.epochs, tuple(config.seeds)
    export_dir, saved_model_dir, compress_export = config.export_dir, config.saved_model_dir, config.compress_export
    student = dict(student=config.student, student_width=config.student_width, augment=config.augment)
    base = Config(workdir=workdir, smoke=smoke, epochs=epochs, **student).validate()
    teacher_path = shipped.teacher_path()
    if smoke or not os.path.exists(teacher_path):
        teacher_path = train_teacher.run(dataclasses.replace(base, epochs=0))["path"]
    kd = dataclasses.replace(base, temperature=config.temperature, alpha=config.alpha)
    runs = {SCRATCH: [], DISTILLED: []}
    for seed in seeds:
        runs[SCRATCH].append(
            distill.run(dataclasses.replace(base, seed=seed, method="scratch", reference_teacher=teacher_path))
        )
        runs[DISTILLED].append(
            distill.run(
                dataclasses.replace(kd, seed=seed, method="kd", teacher=teacher_path, cache_teacher=True, views=1)
            )
        )
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
    for name, results in runs.items():
        accuracies = [r["test_accuracy"] for r in results]
        mean, std = _mean_std(accuracies)
        agreement = [r["agreement"] for r in results if r.get("agreement") is not None]
        rows.append(
            {
                "model": name,
                "params": results[0]["params"],
                "test_accuracy": mean,
                "std": std,
                "test_accuracies": accuracies,
                "agreement": statistics.fmean(agreement) if agreement else None,
            }
        )
    best = runs[DISTILLED][0]["student_path"]
    student = common.load_model(best, "student")
    for path in (export_dir, saved_model_dir):
        if os.path.exists(path):
            print_fn(f"Replacing the previous demo export {path}.")
    saved_model = common.export_once(student, best, saved_model_dir, overwrite=True)

    path = export.export_model(
        dataclasses.replace(base, export_dir=export_dir, overwrite=True),
        best,
        format="litert",
        quantize="int8",
        max_accuracy_drop=None if smoke else 0.5,
    )
    with open(os.path.splitext(path)[0] + ".json") as f:
        report = json.load(f)

    arrays = common.split_arrays(base)
    x, y = arrays["test"]
    float_images = x.astype("float32") / 255.0
    rows.append(
        {
            "model": f"student, distilled (seed {seeds[0]}), SavedModel",
            "params": rows[-1]["params"],
            "test_accuracy": accuracy_of(saved_model, (float_images, y)),
            "agreement": None,
            "bytes": measure.size_bytes(saved_model),
        }
    )
    rows.append(
        {
            "model": f"student, distilled (seed {seeds[0]}), int8 LiteRT",
            "params": rows[-1]["params"],
            "test_accuracy": accuracy_of(path, (float_images, y)),
            "agreement": None,
            "bytes": report["size_bytes"],
        }
    )
    mlp_int8 = rows[-1]
    cut_config = Config(
        teacher=teacher_path,
        smoke=smoke,
        export_dir=compress_export,
        overwrite=True,
        keep=config.compress_keep,
        epochs=config.compress_epochs,
        **compress.TRAINING,
    )
    pruned = compress.compress(cut_config, os.path.join(workdir, "compress"), print_fn=lambda *_: None)
    cut = {r["model"]: r for r in pruned}
    share = "half" if config.compress_keep == 0.5 else f"{config.compress_keep:g} of"
    for name, label in (("pruned + kd", ""), ("pruned + kd, int8 LiteRT", ", int8 LiteRT")):
        rows.append(
            {
                "model": f"teacher cut to {share} its channels + kd ({config.compress_epochs} epochs){label}",
                "params": cut[name]["params"],
                "test_accuracy": cut[name]["test_accuracy"],
                "agreement": cut[name]["agreement"],
                "bytes": cut[name]["bytes"],
            }
        )
    print_fn(format_table(rows, epochs, len(seeds)))
    gains = [d["test_accuracy"] - s["test_accuracy"] for s, d in zip(runs[SCRATCH], runs[DISTILLED])]
    gain, spread = _mean_std(gains)
    per_seed = ", ".join(f"{100 * g:+.2f}" for g in gains)
    print_fn(
        f"Distillation: {100 * gain:+.2f} ± {100 * spread:.2f} points over the same student trained from scratch "
        f"for the same {epochs} epochs (mean ± std of {len(seeds)} paired seeds: {per_seed}); its int8 LiteRT "
        f"file ({report['size_bytes'] / 1024:.0f} KiB) scores {100 * mlp_int8['test_accuracy']:.2f}%. "
        f"Exported to {saved_model} and {path}. The teacher cut to {rows[-1]['params']:,} parameters and "
        f"distilled for {config.compress_epochs} epochs scores {100 * rows[-2]['test_accuracy']:.2f}% "
        f"({100 * rows[-1]['test_accuracy']:.2f}% as int8 LiteRT, {compress_export})."
    )
    return rows


def format_table(rows, epochs, num_seeds):
    lines = [
        f"Fashion-MNIST test split (10,000 images); MLP students: {epochs} epochs each, same schedule, "
        f"mean ± std over {num_seeds} seeds; the student cut out of the teacher: seed 0.",
        "",
        "| model | parameters | size | test accuracy | agreement with teacher |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        agree = "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}%"
        size = f"{r['bytes'] / 1024:.0f} KiB" if r.get("bytes") else ""
        accuracy = f"{100 * r['test_accuracy']:.2f}%"
        if "std" in r:
            accuracy += f" ± {100 * r['std']:.2f}"
        lines.append(f"| {r['model']} | {r['params']:,} | {size} | {accuracy} | {agree} |")
    return "\n".join(lines)
