"""Library side of `recipes/compress.py`: a student cut out of the teacher
(structured pruning), distilled from it, quantized to int8, checked and
exported, with one table."""

import dataclasses
import os

import keras
import numpy as np

from recipes.lib import common, distill, measure
from recipes.lib import config as config_lib
from recipes.lib import export as export_lib
from recipes.lib.evaluate import accuracy_of
from tfkd import pruning
from tfkd.pruning.importance import CALIBRATION_EXAMPLES

# How the students cut out of the teacher are trained: no augmentation (they
# start from the teacher's features) and the teacher's logits cached once.
TRAINING = dict(augment=False, cache_teacher=True, views=1)


# The scratch baseline is also trained with the other augmentation choice:
# shifts and flips when the run has none, none when it has some (shifts and
# flips or mixup); the better of the two on validation is the baseline.
ALTERNATIVE_DIR = "augment"


def alternative_augmentation(config):
    """The config change and row-name suffix of the other augmentation choice.

    Args:
        config: the training `Config` of the compression run.

    Returns:
        `(change, suffix)`: the fields to replace (`augment`, `mixup`, `views`)
        and what the scratch row's name gains (" + augmentation" or
        ", no augmentation").

    Example:
        `alternative_augmentation(Config(augment=False))` is
        `({"augment": True}, " + augmentation")`.
    """
    if config.augment or config.mixup > 0:
        return {"augment": False, "mixup": 0.0, "views": 1}, ", no augmentation"
    return {"augment": True}, " + augmentation"


def fractions(config, model):
    """What `prune_width` keeps of `model`: `config.keep`, or per layer when
    `config.keep_whole` names layers to leave whole.

    Raises:
        ValueError: when `keep_whole` names a layer whose channels cannot be
            pruned (the prunable ones are listed).
    """
    if not config.keep_whole:
        return config.keep
    groups = pruning.prunable_groups(model)
    whole = set(config.keep_whole)
    unknown = sorted(whole - {name for group in groups for name in group})
    if unknown:
        raise ValueError(
            f"--config.keep_whole names {unknown}, which are not prunable layers of the teacher; prunable: "
            f"{[name for group in groups for name in group]}."
        )
    return {name: 1.0 if whole & set(group) else config.keep for group in groups for name in group}


def prune(config, teacher, path):
    """The pruned student, saved to `path` (reused when it is already there).

    Args:
        config: a `Config` (keep, keep_whole, drop_blocks, importance,
            round_to, data).
        teacher: the trained teacher model.
        path: where the pruned, untrained student goes.

    Returns:
        `(student, report)`: the pruned model and its `PruneReport`.
    """
    images = common.split_arrays(config)["train"][0][:CALIBRATION_EXAMPLES].astype(np.float32) / 255.0
    if os.path.exists(path):
        student = common.load_model(path, "student")
    else:
        student = sparse_teacher(config, teacher) if config.sparsity else teacher
        if config.drop_blocks:
            student = pruning.prune_depth(student, config.drop_blocks, calibration_data=images)
        if config.keep < 1:
            keep = fractions(config, student)
            if config.keep_by == "search":
                # Channels allocated layer by layer, judged on 2,000 validation images.
                x_val, y_val = common.split_arrays(config)["val"]
                data = (x_val[:2000].astype(np.float32) / 255.0, y_val[:2000])
                keep = pruning.search_keep(student, data, keep, images, config.importance)
            student = pruning.prune_width(
                student,
                keep,
                calibration_data=images,
                importance=config.importance,
                round_to=config.round_to,
                reconstruct=config.reconstruct,
            )
        elif student is teacher:
            student = pruning.prune_width(teacher, 1.0, importance="magnitude")  # a copy
        if not (config.reconstruct and config.keep < 1):
            # The kept channels' new statistics (pruned inputs change every BatchNorm's). A
            # reconstructed student's layers reproduce the teacher's outputs, so the teacher's
            # statistics fit it better than re-estimated ones.
            pruning.recalibrate_batchnorm(student, images)
        common.save_model(student, path)
    return student, pruning.prune_report(teacher, student)


def sparse_teacher(config, teacher):
    """The teacher after network slimming's sparsity training, before the cut.

    A copy of the teacher carrying `config.sparsity`'s penalty
    (`tfkd.pruning.sparsify`: L1 on the BatchNorm scales for `bn_scale`,
    group lasso on the filters for `magnitude`; layers in `keep_whole` not
    penalized) is trained for `config.sparsity_epochs` with the run's method
    and schedule, distilled from the teacher(s), resumably, in
    `workdir/sparsity_e<epochs>/`; runs that differ only in how they cut
    (`keep`, `keep_by`, `drop_blocks`, `round_to`, `reconstruct`) share
    it. With `config.sparsity_from="scratch"` the copy starts from random
    weights drawn with `config.seed` (the paper's schedule: the penalty
    through a whole training, Liu et al. 2017), in
    `workdir/sparsity_scratch_e<epochs>/`.

    Returns:
        The trained copy (teacher-sized, trained with the penalty; a
        3-epoch phase from the teacher shrinks a layer's scales alike rather
        than zeroing some, recipes/results/compress_slimming.md), to be cut
        with `config.importance`. The phase and the student's training each
        cache the teacher's logits once (two passes over the training set).
    """
    folder = common.own_folder(config.workdir)
    scratch = config.sparsity_from == "scratch"
    # From scratch, the copy's weights depend on the seed.
    tag = f"_scratch_s{config.seed}" if scratch else ""
    init = os.path.join(folder, f"sparse_{config.importance}_{config.sparsity:g}{tag}.keras")
    if not os.path.exists(init):
        start = fresh_weights(teacher, config.seed) if scratch else teacher
        common.save_model(pruning.sparsify(start, config.sparsity, config.importance, config.keep_whole), init)
    # The cut's own settings do not change the phase: one trained copy serves every size.
    defaults = config_lib.Config()
    cut = {name: getattr(defaults, name) for name in ("keep", "keep_by", "drop_blocks", "round_to", "reconstruct")}
    phase = dataclasses.replace(config, **cut, student_init=init, epochs=config.sparsity_epochs, export_dir="")
    name = f"sparsity{'_scratch' if scratch else ''}_e{config.sparsity_epochs}"
    result = distill.run(phase, os.path.join(config.workdir, name))
    return common.load_model(result["student_path"], "student")


def fresh_weights(model, seed):
    """`model`'s architecture with new initial weights drawn with `seed`."""
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


def random_init(student, path, seed):
    """The pruned architecture with fresh initial weights drawn with `seed`,
    saved to `path` (the baselines: the same student trained from random
    weights)."""
    if not os.path.exists(path):
        common.save_model(fresh_weights(student, seed), path)
    return path


def run(config, workdir, print_fn=print):
    """`recipes/compress.py`: `compress` with a config of
    `recipes/configs/compress.py` (the training fields, `export` and
    `baselines`).

    Returns:
        The table as a list of row dicts.

    Raises:
        ValueError: for a bad setting, before any work.
    """
    train = config_lib.training_config(config, workdir, ignore=("export", "baselines"))
    return compress(train, workdir, config.export, print_fn, config.baselines)


def compress(
    config, workdir=None, export="int8", print_fn=print, baselines=False, short_epochs=0, augment_baseline=True
):
    """Prune, distil, quantize, check, export; print the table.

    Args:
        config: a `Config`: `teacher`, `keep`, `keep_by`, `keep_whole`, `drop_blocks`,
            `importance`, `round_to`, the distillation method and schedule,
            `export_dir`.
        workdir: where the pruned student, the run and the exports go.
        export: `"int8"` (LiteRT int8, checked on the validation split) or
            `"none"`.
        print_fn: where the table goes.
        baselines: also train the pruned architecture from random weights,
            from scratch and with the same distillation, same schedule, and
            from scratch with the other augmentation choice (shifts and flips
            when `config` has no augmentation, none when it has shifts,
            flips or mixup; see `alternative_augmentation`) unless
            `augment_baseline` is False.
        short_epochs: > 0: also distil the pruned student with a schedule of
            this many epochs (the same schedule, compressed), to compare a
            short budget with the baselines' full one.

    Returns:
        The table as a list of row dicts.

    Raises:
        ValueError: for a missing teacher or a bad setting, before any work.
    """
    workdir = workdir or config.workdir
    config = dataclasses.replace(config, workdir=workdir).validate()
    if not config.teacher:
        raise ValueError("compress needs --config.teacher=path/to/teacher.keras (the model to cut the student from).")
    if export not in ("int8", "none"):
        raise ValueError(f"--config.export must be 'int8' or 'none', got {export!r}.")
    common.set_up(config)
    folder = common.own_folder(workdir)
    tag = f"keep{config.keep:g}_drop{config.drop_blocks}_{config.importance}_r{config.round_to}"
    tag += "" if config.keep_by == "uniform" else f"_{config.keep_by}"
    tag += "".join(f"_whole-{name}" for name in config.keep_whole)
    # Sparsity training is seeded: its cut can differ from seed to seed.
    sparse = f"_sparse{config.sparsity:g}x{config.sparsity_epochs}" if config.sparsity else ""
    sparse += "_scratch" if sparse and config.sparsity_from == "scratch" else ""
    recon = "_recon" if config.reconstruct else ""
    # The random-init baselines share `tag`: reconstruction changes weights, not the architecture.
    pruned_path = os.path.join(folder, f"pruned_{tag}{sparse}{f'_s{config.seed}' if sparse else ''}{recon}.keras")
    teacher = common.load_model(config.teacher)
    student, report = prune(config, teacher, pruned_path)
    _, test, _ = common.splits(config)
    compile_args = {k: v for k, v in common.compile_args(config).items() if k != "optimizer"}
    teacher.compile(**compile_args)
    student.compile(**compile_args)
    x, y = common.split_arrays(config)["test"]
    x = x.astype(np.float32) / 255.0
    rows = [
        _row("teacher", report.params_before, report.macs_before, teacher.evaluate(test, verbose=0)[1]),
        _row(
            "pruned (least-squares reconstructed), before training"
            if config.reconstruct
            else "pruned (BatchNorm re-estimated), before training",
            report.params_after,
            report.macs_after,
            student.evaluate(test, verbose=0)[1],
            agreement=common.agreement(student, teacher, test),
        ),
    ]
    # The trainings export nothing themselves: `export_dir` is the int8 file below.
    train = dataclasses.replace(config, export_dir="")
    result = distill.run(dataclasses.replace(train, student_init=pruned_path), workdir)

    def trained_row(name, res):
        row = _row(name, report.params_after, report.macs_after, res["test_accuracy"], res.get("agreement"))
        return {**row, "history": res.get("history", {})}

    rows.append(trained_row(f"pruned + {config.method}", result))
    if short_epochs:
        short_dir = os.path.join(workdir, f"epochs{short_epochs}")
        res = distill.run(dataclasses.replace(train, student_init=pruned_path, epochs=short_epochs), short_dir)
        rows.append(trained_row(f"pruned + {config.method}, {short_epochs} epochs", res))
    if baselines:
        fresh = random_init(student, os.path.join(folder, f"random_{tag}_s{config.seed}.keras"), config.seed)
        same = dict(student_init=fresh, reference_teacher=config.teacher)
        runs = [("scratch", {}, ""), (config.method, {}, "")]
        if augment_baseline:
            runs.append(("scratch", *alternative_augmentation(config)))
        for method, change, suffix in runs:
            run_config = dataclasses.replace(train, method=method, **change, **same)
            res = distill.run(run_config, os.path.join(workdir, ALTERNATIVE_DIR) if change else workdir)
            rows.append(trained_row(f"same architecture, random init, {method}{suffix}", res))
    if export == "int8":
        path = config.export_dir or os.path.join(folder, f"student_{tag}{sparse}{recon}_s{config.seed}_int8.tflite")
        path = export_lib.export_model(
            dataclasses.replace(config, export_dir=path),
            result["student_path"],
            format="litert",
            quantize="int8",
            max_accuracy_drop=None if config.smoke else 0.5,  # smoke students are untrained
        )
        _, one = measure.runner(path)
        rows.append(
            {
                "model": f"pruned + {config.method}, int8 LiteRT",
                "params": report.params_after,
                "macs": report.macs_after,
                "bytes": measure.size_bytes(path),
                "latency_ms": measure.median_ms(one, 200),
                "test_accuracy": accuracy_of(path, (x, y)),
                "agreement": None,
            }
        )
    keras.mixed_precision.set_dtype_policy("float32")
    print_fn(str(report))
    print_fn("")
    print_fn(format_table(rows))
    return rows


def _row(name, params, macs, accuracy, agreement=1.0):
    return {
        "model": name,
        "params": params,
        "macs": macs,
        "bytes": None,
        "latency_ms": None,
        "test_accuracy": float(accuracy),
        "agreement": agreement,
    }


def format_table(rows):
    lines = [
        "| model | parameters | MACs | file size | batch-1 latency | test accuracy | agreement with teacher |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = f"{r['bytes'] / 1024:.1f} KiB" if r["bytes"] else ""
        latency = f"{1000 * r['latency_ms']:.0f} µs" if r["latency_ms"] is not None else ""
        agree = "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}%"
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['macs']:,} | {size} | {latency} | "
            f"{100 * r['test_accuracy']:.2f}% | {agree} |"
        )
    return "\n".join(lines)
