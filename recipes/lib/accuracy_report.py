"""The report of the accuracy benchmark: mean ± std over seeds per row, the
gap closed, and the Markdown tables (main table, parity, curve)."""

import csv
import os
import statistics

from recipes.lib.accuracy_rows import ROWS, SCRATCH_ROWS, SECOND_TEACHER, STUDENTS, TEACHER


def _mean_std(values):
    values = [v for v in values if v == v]  # NaN: not measured
    if not values:
        return float("nan"), 0.0
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(results, rows=ROWS):
    """Mean ± std over seeds per (student, row) from float32 runs of the main
    schedule, with Δ and the share of the teacher–baseline gap closed, where
    the baseline is the better scratch row (with or without mixup).

    Returns:
        A list of dicts with student, row, params, mean, std, n, agreement,
        delta (points over the baseline), gap_closed and sigmas (Δ over the
        pooled standard deviation of the row and the baseline).
    """
    main, seen = [], set()
    for r in results:  # a run reused by a later stage (the curve) counts once
        key = (r["kind"], r["model"], r["row"], r["seed"], r["precision"], r["width"], r.get("examples"))
        if r["precision"] == "float32" and not r["width"] and not r.get("examples") and key not in seen:
            seen.add(key)
            main.append(r)
    teacher = next(r for r in main if r["kind"] == "teacher" and r["row"] == TEACHER)
    out = []
    students = list(dict.fromkeys(r["model"] for r in main if r["kind"] == "student"))
    for student in students:
        by_row = {}
        for r in main:
            if r["kind"] == "student" and r["model"] == student:
                by_row.setdefault(r["row"], []).append(r)
        stats = {row: _mean_std([r["test_accuracy"] for r in runs]) for row, runs in by_row.items()}
        base_row = max((r for r in SCRATCH_ROWS if r in stats), key=lambda r: stats[r][0])
        base, base_std = stats[base_row]
        gap = teacher["test_accuracy"] - base
        for row in [r for r in rows if r in by_row]:
            mean, std = stats[row]
            pooled = ((std**2 + base_std**2) / 2) ** 0.5
            out.append(
                {
                    "student": student,
                    "row": row,
                    "params": by_row[row][0]["params"],
                    "mean": mean,
                    "std": std,
                    "n": len(by_row[row]),
                    "baseline": row == base_row,
                    "agreement": _mean_std([r.get("agreement", float("nan")) for r in by_row[row]])[0],
                    "gap_closed": (mean - base) / gap if gap > 0 else float("nan"),
                    "delta": 100 * (mean - base),
                    "sigmas": (mean - base) / pooled if pooled else float("nan"),
                }
            )
    return out


def _rate(value):
    """A learning rate as written in the configs: 2e-3, 1.6e-2."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def format_table(summary, results, settings):
    teachers = [
        r
        for r in results
        if r["kind"] == "teacher" and r["precision"] == "float32" and r["row"] in (TEACHER, SECOND_TEACHER)
    ]
    seen, lines = set(), []
    epochs = ", ".join(f"{v['student']} {settings.epochs or v['epochs']}" for v in STUDENTS.values())
    lines.append(
        f"Fashion-MNIST test accuracy (10,000 images), mean ± std over the seeds (n; they vary the student's "
        f"initialisation, data order and augmentation). Every row of a student has the same schedule (epochs: "
        f"{epochs}; Adam {_rate(settings.learning_rate)}, 1 warm-up epoch, cosine decay, batch {settings.batch_size}) "
        "and augmentation (none, chosen on the "
        "validation split; the rows 'kd online' and 'kd top-5' use 2-pixel shifts and flips); '+mixup' adds mixup "
        f"(Beta({settings.mixup:g}, {settings.mixup:g})), with the teacher on the same mixed images "
        f"({settings.views} cached views per example); temperature and hard-label weight from tune.py on the "
        "validation split; 'kd pure' has no hard-label term; 'kd online' runs the teacher on every augmented batch "
        "instead of replaying cached views, and 'kd top-5' replays cached views that keep only the 5 largest teacher "
        "logits. Δ and gap closed are against the better scratch row "
        "(marked *); σ = Δ / pooled std. Agreement: top-1 agreement with the teacher on the test split."
    )
    lines += [
        "",
        "| model | method | parameters | test accuracy | Δ vs scratch | σ | gap closed | agreement |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in teachers:
        if t["row"] not in seen:
            seen.add(t["row"])
            role = "teacher" if t["row"] == TEACHER else "second teacher (the '2 teachers' rows)"
            lines.append(f"| {t['model']} | {role} | {t['params']:,} | {100 * t['test_accuracy']:.2f} |  |  |  |  |")
    for r in summary:
        std = f" ± {100 * r['std']:.2f} (n={r['n']})" if r["n"] > 1 else " (n=1)"
        base = r["baseline"]
        delta = "" if base else f"{r['delta']:+.2f}"
        sigmas = "" if base or r["sigmas"] != r["sigmas"] else f"{r['sigmas']:+.1f}"
        gap = "" if base else f"{100 * r['gap_closed']:.0f}%"
        agree = "" if r["agreement"] != r["agreement"] else f"{100 * r['agreement']:.1f}%"
        name = STUDENTS.get(r["student"], {}).get("student", r["student"])
        lines.append(
            f"| {name} | {r['row']}{' *' if base else ''} | {r['params']:,} | {100 * r['mean']:.2f}{std} | "
            f"{delta} | {sigmas} | {gap} | {agree} |"
        )
    return "\n".join(lines)


def format_parity(parity, settings):
    precisions = ["float32", *settings.parity_precisions]
    lines = [
        f"{settings.parity_teacher} teacher and {settings.parity_student} students, shortened schedule: "
        f"{settings.parity_epochs} epoch(s) over the first {settings.parity_examples:,} training examples, "
        "seed 0, test accuracy on the full test split; Δ in points against float32.",
        "",
        "| row | " + " | ".join(precisions) + " |",
        "|---|" + "---:|" * len(precisions),
    ]
    for row in ("teacher", "scratch", "kd"):
        cells = []
        for p in precisions:
            acc = parity[(p, row)]
            delta = "" if p == "float32" else f" ({100 * (acc - parity[('float32', row)]):+.2f})"
            cells.append(f"{100 * acc:.2f}{delta}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_curve(points):
    """Scratch vs kd per student size (mean over the seeds run there)."""
    by = {}
    for row, params, acc, _ in points:
        by.setdefault(params, {}).setdefault(row, []).append(acc)
    lines = ["| parameters | seeds | scratch | kd | Δ |", "|---:|---:|---:|---:|---:|"]
    for params in sorted(by):
        sc, kd = by[params].get("scratch", []), by[params].get("kd", [])
        if sc and kd:
            d = 100 * (statistics.mean(kd) - statistics.mean(sc))
            lines.append(
                f"| {params:,} | {len(sc)} | {100 * statistics.mean(sc):.2f} | {100 * statistics.mean(kd):.2f} "
                f"| {d:+.2f} |"
            )
    return "\n".join(lines)


def rebuild_table(settings):
    """Rewrites `table.md` from the workdir's `results.csv` (no training).

    Returns:
        The table's text.
    """
    types = {
        "width": int,
        "examples": int,
        "seed": int,
        "params": int,
        "test_accuracy": float,
        "seconds": float,
        "val_accuracy": float,
        "agreement": float,
    }
    with open(os.path.join(settings.workdir, "results.csv")) as f:
        results = [{k: types.get(k, str)(v) for k, v in r.items()} for r in csv.DictReader(f)]
    table = format_table(summarize(results, settings.rows), results, settings)
    with open(os.path.join(settings.workdir, "table.md"), "w") as f:
        f.write(table + "\n")
    return table
