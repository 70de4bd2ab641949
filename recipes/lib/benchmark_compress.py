"""Library side of `recipes/benchmark_compress.py`: students cut out of a
trained teacher at several sizes, over seeds, against the same architectures
trained from random weights; one table, the learning curves and the
compression curve."""

import dataclasses
import json
import os
import statistics

from tabulate import tabulate

from recipes.lib import common, compress, plots, shipped
from recipes.lib import config as config_lib
from recipes.lib.config import Config


def pruned_row(method):
    """The name of the cut student's row when it learns with `method`."""
    return f"pruned + {method}"


def random_row(method):
    """The name of the same architecture's row from random weights with `method`."""
    return f"same architecture, random init, {method}"


def int8_row(method):
    """The name of the cut student's int8 LiteRT row."""
    return f"{pruned_row(method)}, int8 LiteRT"


PRUNED, RANDOM_KD, INT8 = pruned_row("kd"), random_row("kd"), int8_row("kd")
SCRATCH = "same architecture, random init, scratch"
SCRATCH_AUG = "same architecture, random init, scratch + augmentation"
SCRATCH_PLAIN = "same architecture, random init, scratch, no augmentation"
# The scratch row with the other augmentation choice (compress.alternative_augmentation).
ALTERNATIVES = (SCRATCH_AUG, SCRATCH_PLAIN)


def run_one(config, workdir, short_epochs, augment_baseline):
    """One `compress.run` with baselines, its rows kept in `rows.json` (a
    rerun reads them; the training runs underneath resume on their own)."""
    path = os.path.join(workdir, "rows.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    rows = compress.compress(
        config,
        workdir,
        export="int8",
        print_fn=lambda *_: None,
        baselines=True,
        short_epochs=short_epochs,
        augment_baseline=augment_baseline,
    )
    common.write_json_atomically(path, rows)
    return rows


def _final_val(rows, name):
    row = next((r for r in rows if r["model"] == name), None)
    return row["history"]["val_accuracy"][-1] if row and row.get("history") else None


def alternative_of(rows):
    """The name of the scratch row with the other augmentation choice in
    `rows` (`SCRATCH_AUG` or `SCRATCH_PLAIN`), or None."""
    return next((name for name in ALTERNATIVES if any(r["model"] == name for r in rows)), None)


def alternative_wins(rows):
    """Whether scratch with the other augmentation choice ended higher on the
    validation split than the run's own scratch row (the rows of one seed;
    False when not run)."""
    own, other = _final_val(rows, SCRATCH), _final_val(rows, alternative_of(rows))
    return other is not None and own is not None and other > own


def _mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs, short_epochs, method="kd"):
    """Per kept fraction: each row's mean ± std over seeds and the targets.

    Args:
        runs: `{keep: [rows of one seed, ...]}` as `compress.run` returns them.
        short_epochs: the short schedule's length (its row's name has it).
        method: how the cut student and the random-init row learnt (their
            rows' names have it).

    Returns:
        A list of dicts (one per kept fraction): `keep`, `params`, `method`,
        `rows` (`{name: (mean, std)}` test accuracy), `deltas` (`{baseline:
        (mean, std)}` of the paired per-seed differences of the cut
        student), `gap_closed`, `int8_drop`, `epochs_to_scratch` and `epochs`.
    """
    out = []
    pruned, random_init, int8 = pruned_row(method), random_row(method), int8_row(method)
    short = f"{pruned}, {short_epochs} epochs"
    for keep, seeds in sorted(runs.items(), reverse=True):
        by_name = {}
        for rows in seeds:
            for r in rows:
                by_name.setdefault(r["model"], []).append(r)
        acc = {name: [r["test_accuracy"] for r in rs] for name, rs in by_name.items()}
        stats = {name: _mean_std(v) for name, v in acc.items()}
        teacher = stats["teacher"][0]
        scratch_best = alternative_of(seeds[0]) if alternative_wins(seeds[0]) else SCRATCH
        deltas = {
            base: _mean_std([p - b for p, b in zip(acc[pruned], acc[base])])
            for base in (random_init, SCRATCH, *ALTERNATIVES, short)
            if base in acc
        }
        base = stats[scratch_best][0]
        # Learning curves on the validation split, mean over seeds.
        curves = {
            name: [statistics.mean(v) for v in zip(*[r["history"]["val_accuracy"] for r in by_name[name]])]
            for name in (pruned, random_init, scratch_best)
            if name in by_name and by_name[name][0].get("history")
        }
        target = curves[scratch_best][-1] if scratch_best in curves else None
        reached = next(
            (i + 1 for i, a in enumerate(curves.get(pruned, [])) if target is not None and a >= target), None
        )
        out.append(
            {
                "keep": keep,
                "method": method,
                "params": seeds[0][0]["params"],
                "student_params": by_name[pruned][0]["params"],
                "rows": stats,
                "n": {name: len(v) for name, v in acc.items()},
                "seeds": len(seeds),
                "deltas": deltas,
                "scratch_best": scratch_best,
                "gap_closed": (stats[pruned][0] - base) / (teacher - base) if teacher > base else None,
                "int8_drop": _mean_std([p - q for p, q in zip(acc[pruned], acc[int8])]) if int8 in acc else None,
                "epochs_to_scratch": reached,
                "epochs": len(curves.get(pruned, [])),
                "curves": curves,
                "short": short,
            }
        )
    return out


def _pm(mean_std, scale=100):
    m, s = mean_std
    return f"{scale * m:.2f} ± {scale * s:.2f}"


def _n(s, label):
    """' (n=1)' where a row ran on fewer seeds than the others."""
    n = s["n"].get(label, s["seeds"])
    return f" (n={n})" if n != s["seeds"] else ""


def _signed(mean_std):
    m, s = mean_std
    return f"{100 * m:+.2f} ± {100 * s:.2f}"


def format_table(summary):
    """The Markdown table: one column per kept fraction."""
    method = summary[0]["method"]
    pruned, random_init = pruned_row(method), random_row(method)
    names = ["teacher", pruned, None, random_init, SCRATCH, *ALTERNATIVES, int8_row(method)]
    header = [
        "",
        *(
            f"keep={s['keep']:g}: {s['student_params']:,} params ({s['student_params'] / s['params']:.1%})"
            for s in summary
        ),
    ]
    lines = []
    for name in names:
        label = name or summary[0]["short"]
        if not any(label in s["rows"] for s in summary):
            continue  # e.g. no short schedule (short_epochs=0)
        cells = [_pm(s["rows"][label]) + _n(s, label) if label in s["rows"] else "" for s in summary]
        lines.append([label, *cells])
    lines.append(["best scratch (on validation)", *(s["scratch_best"].split(", ", 1)[1] for s in summary)])
    for base in (random_init, SCRATCH, *ALTERNATIVES):
        if not any(base in s["deltas"] for s in summary):
            continue
        lines.append(
            [
                f"Δ {pruned} vs {base.split(', ', 1)[1]} (paired)",
                *(_signed(s["deltas"][base]) + _n(s, base) if base in s["deltas"] else "" for s in summary),
            ]
        )
    lines.append(
        [
            "gap to the teacher closed (vs best scratch)",
            *(f"{100 * s['gap_closed']:.0f}%" if s["gap_closed"] is not None else "" for s in summary),
        ]
    )
    lines.append(
        [
            f"epochs for {pruned} to reach best scratch's final val accuracy",
            *(
                f"{s['epochs_to_scratch']} of {s['epochs']}" if s["epochs_to_scratch"] else f"not in {s['epochs']}"
                for s in summary
            ),
        ]
    )
    lines.append(["int8 drop (points)", *(_signed(s["int8_drop"]) if s["int8_drop"] else "" for s in summary)])
    return tabulate(lines, headers=header, tablefmt="github", disable_numparse=True)


def plot(summary, teacher_accuracy, path):
    """Validation curves of the three rows (each kept fraction) and the
    compression curve (parameters vs test accuracy)."""
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(summary) + 1, figsize=(5 * (len(summary) + 1), 4))
    for ax, s in zip(axes, summary):
        for name, curve in s["curves"].items():
            ax.plot(
                range(1, len(curve) + 1),
                [100 * a for a in curve],
                marker="o",
                label=name.replace("same architecture, ", ""),
            )
        ax.set_title(f"keep={s['keep']:g} ({s['student_params']:,} params), val, mean of {s['seeds']} seeds")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[-1]
    method = summary[0]["method"]
    for name in (pruned_row(method), random_row(method), SCRATCH, *ALTERNATIVES):
        pts = [(s["student_params"], s["rows"][name]) for s in summary if name in s["rows"]]
        ax.errorbar(
            [p for p, _ in pts],
            [100 * m for _, (m, _) in pts],
            yerr=[100 * sd for _, (_, sd) in pts],
            marker="o",
            capsize=3,
            label=name.replace("same architecture, ", ""),
        )
    ax.axhline(100 * teacher_accuracy, color="k", ls="--", lw=1, label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("student parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("compression curve")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclasses.dataclass
class Settings:
    """What the compression benchmark runs."""

    teacher: str = ""  # "" = the shipped teacher (the model cut, and the teacher of the kd rows)
    teachers: tuple = ()  # several saved teachers for the kd rows (their ensemble); the cut is from `teacher`
    keeps: tuple = (0.5, 0.32)
    keep_by: str = "uniform"  # or "search": the same sizes, channels allocated per layer (search_keep)
    keep_whole: tuple = ()  # layers left whole at every size (e.g. the penultimate Dense)
    reconstruct: bool = False  # re-fit the cut layers by least squares (prune_width(reconstruct=True))
    importance: str = "activation"  # how channels are ranked (prune_width's importance)
    sparsity: float = 0.0  # > 0: network slimming's sparsity training of the teacher's copy before the cut
    sparsity_epochs: int = 3  # its epochs (distilled from the teacher)
    sparsity_from: str = "teacher"  # that training starts from the teacher's weights or from "scratch"
    # Every row's data: compress.TRAINING (no augmentation, one view) unless changed; with
    # shifts/flips or mixup, kd replays the teacher on `views` cached views of each image
    # (patient, consistent teaching) and scratch also runs without augmentation.
    augment: bool = compress.TRAINING["augment"]
    mixup: float = 0.0
    views: int = compress.TRAINING["views"]
    # How the cut student and the random-init distillation row learn: a method of the
    # recipes (kd, dist, dkd, ...) with the settings tune.py chose for the student
    # `tuned_as` (recipes/results/tuned.json), and every row's peak learning rate.
    method: str = "kd"
    tuned_as: str = "cnn_flat_w8"
    learning_rate: float = 2e-3
    seeds: tuple = (0, 1, 2)
    epochs: int = 10
    short_epochs: int = 2
    workdir: str = "workdirs/benchmark_compress"
    smoke: bool = False


def method_config(config, settings):
    """`config` learning with `settings.method`, with the settings `tune.py`
    chose for it on the student `settings.tuned_as`
    (`recipes/results/tuned.json`).

    Raises:
        ValueError: for a method the recipes do not have, scratch, or one
            with no tuned settings for that student (the tuned ones are
            listed).
    """
    if settings.method not in config_lib.METHODS or settings.method == "scratch":
        raise ValueError(
            f"--config.method must be a distillation method of the recipes, one of "
            f"{[m for m in config_lib.METHODS if m != 'scratch']}, got {settings.method!r}."
        )
    with open(shipped.TUNED) as f:
        tuned = json.load(f)
    found = tuned.get(settings.tuned_as, {})
    if settings.method not in found:
        raise ValueError(
            f"recipes/results/tuned.json has no {settings.method!r} settings for {settings.tuned_as!r} "
            f"(it has {sorted(found)} for it; students: {sorted(tuned)}). Fix: pick another "
            "--config.tuned_as or --config.method, or run recipes/tune.py for it."
        )
    config = dataclasses.replace(config, method=settings.method)
    return config_lib.tuned_config(config, tuned, settings.method, key=settings.tuned_as)


def run(config, workdir=None, print_fn=print):
    """Runs every (kept fraction, seed), writes `compress.md` (and
    `compress.png` unless smoke) under the workdir and prints the table.

    Args:
        config: a config of `recipes/configs/benchmark_compress.py`, or a
            `Settings`.
        workdir: the output folder (a `Settings`' own when None).
        print_fn: where the table goes.

    Returns:
        The summary (see `summarize`).

    Raises:
        ValueError: for a bad setting, before any training.
    """
    if isinstance(config, Settings):
        settings = dataclasses.replace(config, workdir=workdir or config.workdir)
    else:
        settings = config_lib.to_dataclass(Settings, config, **({"workdir": workdir} if workdir else {}))
    settings = dataclasses.replace(settings, teacher=settings.teacher or shipped.TEACHER)
    if not settings.keeps or any(not 0 < k <= 1 for k in settings.keeps):
        raise ValueError(f"--config.keeps must be fractions in (0, 1], got {list(settings.keeps)}.")
    if not settings.seeds or settings.epochs < 1 or not 0 <= settings.short_epochs < settings.epochs:
        raise ValueError(
            f"--config.seeds must be non-empty, --config.epochs >= 1 and 0 <= --config.short_epochs < "
            f"--config.epochs, got "
            f"{list(settings.seeds)}, {settings.epochs}, {settings.short_epochs}."
        )
    method_config(Config(), settings)  # a bad method fails here, before any training
    runs = {}
    # Seed by seed, every size: an interrupted benchmark has all sizes on its first seeds.
    for seed in settings.seeds:
        for keep in settings.keeps:
            config = Config(
                teacher=settings.teacher,
                teachers=tuple(settings.teachers),
                keep=keep,
                keep_by=settings.keep_by,
                keep_whole=tuple(settings.keep_whole),
                reconstruct=settings.reconstruct,
                importance=settings.importance,
                sparsity=settings.sparsity,
                sparsity_epochs=settings.sparsity_epochs,
                sparsity_from=settings.sparsity_from,
                epochs=settings.epochs,
                learning_rate=settings.learning_rate,
                seed=seed,
                smoke=settings.smoke,
                **{**compress.TRAINING, "augment": settings.augment, "mixup": settings.mixup, "views": settings.views},
            )
            config = method_config(config, settings)
            whole = "".join(f"_whole-{name}" for name in settings.keep_whole)
            whole += "_recon" if settings.reconstruct else ""
            whole += "" if settings.importance == "activation" else f"_{settings.importance}"
            whole += f"_sparse{settings.sparsity:g}x{settings.sparsity_epochs}" if settings.sparsity else ""
            whole += "_scratch" if settings.sparsity and settings.sparsity_from == "scratch" else ""
            whole += "_augment" if settings.augment else ""
            whole += f"_mixup{settings.mixup:g}_views{settings.views}" if settings.mixup else ""
            whole += f"_teachers{len(settings.teachers)}" if settings.teachers else ""
            whole += "" if settings.method == "kd" else f"_{settings.method}"
            whole += "" if settings.learning_rate == Settings.learning_rate else f"_lr{settings.learning_rate:g}"
            folder = os.path.join(settings.workdir, f"keep{keep:g}{whole}", f"seed{seed}")
            # Scratch with the other augmentation choice runs on the first seed;
            # on the others only if it ended higher there on the validation split.
            first = runs.get(keep, [None])[0]
            augment = first is None or alternative_wins(first)
            runs.setdefault(keep, []).append(run_one(config, folder, settings.short_epochs, augment))
    summary = summarize(runs, settings.short_epochs, settings.method)
    table = format_table(summary)
    with open(os.path.join(settings.workdir, "compress.md"), "w") as f:
        f.write(table + "\n")
    if not settings.smoke:
        plot(summary, summary[0]["rows"]["teacher"][0], os.path.join(settings.workdir, "compress.png"))
    print_fn(table)
    return summary
