"""Library side of `recipes/plot_runs.py`: the per-epoch curve of finished
training runs (their `history.csv`), averaged over the seeds a pattern
matches, drawn on one figure and written as a Markdown table."""

import csv
import glob
import os
import statistics

from recipes.lib import plots


def parse_runs(spec):
    """`"label=pattern;label=pattern"` as a list of `(label, pattern)`.

    Args:
        spec: one or more `label=pattern` entries separated by `;`; a
            pattern is a glob of run folders (each with a `history.csv`),
            e.g. `wd/cut_e6/s*/*_dist_s*`.

    Returns:
        `[(label, pattern), ...]` in the order given.

    Raises:
        ValueError: for an empty spec, an entry without `=`, an empty label
            or pattern, or a label given twice.

    Example:
        `parse_runs("cut=a/s*;scratch=b/s*")` is `[("cut", "a/s*"), ("scratch", "b/s*")]`.
    """
    entries = [e.strip() for e in (spec or "").split(";") if e.strip()]
    if not entries:
        raise ValueError(
            "plot_runs needs --config.runs='label=glob;label=glob' (a glob of run folders with a history.csv)."
        )
    out = []
    for entry in entries:
        label, sep, pattern = entry.partition("=")
        if not sep or not label.strip() or not pattern.strip():
            raise ValueError(f"Each --config.runs entry must be 'label=glob of run folders', got {entry!r}.")
        if label.strip() in dict(out):
            raise ValueError(f"The label {label.strip()!r} is given twice in --config.runs; labels must differ.")
        out.append((label.strip(), pattern.strip()))
    return out


def read_curve(run_dir, metric):
    """The values of `metric` by epoch in `run_dir/history.csv`.

    Raises:
        ValueError: if the file or the column is missing.
    """
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        raise ValueError(f"{run_dir!r} has no history.csv: is it the folder of a finished training run?")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or metric not in rows[0]:
        columns = sorted(rows[0]) if rows else []
        raise ValueError(f"{path} has no {metric!r} column (it has {columns}). Fix: --config.metric=<one of them>.")
    return [float(r[metric]) for r in sorted(rows, key=lambda r: int(r["epoch"]))]


def curves(runs, metric="val_accuracy"):
    """Each label's mean curve over the runs its pattern matches.

    Args:
        runs: `[(label, pattern), ...]` (see `parse_runs`).
        metric: a column of the runs' `history.csv`.

    Returns:
        `{label: {"mean": [...], "runs": n}}`: the mean by epoch over the
        runs that reached that epoch.

    Raises:
        ValueError: for a pattern that matches no run folder, or what
            `read_curve` refuses.
    """
    out = {}
    for label, pattern in runs:
        dirs = sorted(d for d in glob.glob(pattern) if os.path.isdir(d))
        if not dirs:
            raise ValueError(f"--config.runs: {label}={pattern!r} matches no folder.")
        per_run = [read_curve(d, metric) for d in dirs]
        length = max(len(c) for c in per_run)
        mean = [statistics.mean(c[e] for c in per_run if len(c) > e) for e in range(length)]
        out[label] = {"mean": mean, "runs": len(dirs)}
    return out


def markdown(found, metric):
    """`found` (from `curves`) as a Markdown table, one row per label."""
    length = max(len(v["mean"]) for v in found.values())
    lines = [
        f"| {metric} (mean over runs) | runs | " + " | ".join(str(e + 1) for e in range(length)) + " |",
        "|---|---:|" + "---:|" * length,
    ]
    for label, v in found.items():
        cells = [f"{100 * x:.2f}" for x in v["mean"]] + [""] * (length - len(v["mean"]))
        lines.append(f"| {label} | {v['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(found, path, metric, title=""):
    """Draws each label's mean curve (in percent) against the epoch."""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, v in found.items():
        xs = range(1, len(v["mean"]) + 1)
        ax.plot(xs, [100 * x for x in v["mean"]], marker="o", ms=3, label=f"{label} (n={v['runs']})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title or metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(config, workdir):
    """`recipes/plot_runs.py`: the curves of `config.runs`, drawn to
    `config.out` (default `workdir/curves.png`) with the table beside it
    (`.md`); an existing figure is kept unless `config.overwrite`.

    Returns:
        `(path of the figure, the Markdown table)`.

    Raises:
        ValueError: for a bad spec, a pattern matching nothing, a missing
            metric, or an existing output without `overwrite`, before drawing.
    """
    path = config.out or os.path.join(workdir, "curves.png")
    if not path.endswith(".png"):
        raise ValueError(f"--config.out must be a .png file, got {path!r}.")
    table_path = path[: -len(".png")] + ".md"
    if not config.overwrite and (os.path.exists(path) or os.path.exists(table_path)):
        raise ValueError(f"{path} (or its .md) exists; pass --config.overwrite=True to replace it.")
    found = curves(parse_runs(config.runs), config.metric)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    plot(found, path, config.metric, config.title)
    table = markdown(found, config.metric)
    with open(table_path, "w") as f:
        f.write(table + "\n")
    return path, table
