"""Library side of `recipes/benchmark_accuracy.py`: the accuracy table over
seeds, mixed-precision parity and the compression curve, on Fashion-MNIST."""

import csv
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import time

import keras
import tensorflow as tf

from tfkd import models
from tfkd.recipes import distill, train_teacher
from tfkd.recipes.config import Config

TEACHER, SECOND_TEACHER = "cnn_teacher", "mlp_teacher"
MULTI = "kd (2 teachers)"
ROWS = ("scratch", "kd", "fitnet", "at", "rkd", "sp", "pkt", "kd+at", MULTI)
# Methods whose teacher outputs (logits, penultimate features) are small
# enough to cache for the whole training split.
_CACHEABLE = {"kd", "rkd", "pkt"}


@dataclasses.dataclass
class Settings:
    """What the benchmark runs; every student run shares these except its
    own loss weight (`tfkd.recipes.methods.TYPICAL_WEIGHT`)."""

    workdir: str = "workdirs/benchmark_accuracy"
    seeds: tuple = (0, 1, 2)
    students: tuple = ("cnn_small", "mlp_small")
    rows: tuple = ROWS
    teacher_epochs: int = 5
    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 1e-3
    # Chosen on the validation split (cnn_small, 4 epochs): among T=4 α=0.1
    # (the demo's), T=4 α=0.5, T=2 α=0.5 and T=1 α=0.5, T=2 α=0.5 was best
    # with T=1 (81.6% and 81.8% against 79.0% from scratch).
    temperature: float = 2.0
    alpha: float = 0.5
    parity_precisions: tuple = ("mixed_float16", "mixed_bfloat16")
    # float16 matmuls and convolutions are emulated on most CPUs (a
    # cnn_teacher step takes ~20 s there), so parity uses dense models on a
    # shortened schedule: `parity_epochs` over the first `parity_examples`.
    parity_teacher: str = "mlp_teacher"
    parity_student: str = "mlp_small"
    parity_epochs: int = 1
    parity_examples: int = 10000
    curve_student: str = "mlp_small"
    curve_widths: tuple = (2, 4, 8, 16, 32, 64, 96)
    smoke: bool = False

    def validate(self):
        """Raises a one-line ValueError for the first bad setting."""
        bad = [r for r in self.rows if r not in ROWS]
        if bad:
            raise ValueError(f"Unknown row(s) {bad}; expected names from {list(ROWS)}.")
        if "scratch" not in self.rows:
            raise ValueError("The rows must include 'scratch': the gap closed is measured from it.")
        bad = [
            s
            for s in (*self.students, self.curve_student, self.parity_teacher, self.parity_student)
            if s not in models.NAMES
        ]
        if bad:
            raise ValueError(f"Unknown student(s) {bad}; expected names from {list(models.NAMES)}.")
        if not self.seeds:
            raise ValueError("--seeds is empty; give at least one seed.")
        for name in ("teacher_epochs", "epochs", "parity_epochs", "parity_examples", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        Config(workdir=self.workdir).validate()  # writable workdir
        return self


def applicable(student, row):
    """Whether `row` can run on `student` (attention transfer needs conv maps)."""
    return not ("at" in row.split("+") and "block1" not in models.TAPS.get(student, {}))


def _slug(row):
    return row.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "-")


class LossScaleRecorder(keras.callbacks.Callback):
    """Records the loss scale and the skipped-step count after every batch
    and writes them to a JSON file when training ends."""

    def __init__(self, path):
        super().__init__()
        self.path, self.scale, self.skipped = path, [], []

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if "loss_scale" in logs:
            self.scale.append(float(logs["loss_scale"]))
            self.skipped.append(float(logs.get("nonfinite_steps", 0.0)))

    def on_train_end(self, logs=None):
        if self.scale:
            with open(self.path, "w") as f:
                json.dump({"loss_scale": self.scale, "nonfinite_steps": self.skipped}, f)


class Benchmark:
    """Runs (or reuses) every training run; each finished run is kept in its
    folder, so an interrupted benchmark resumes where it stopped."""

    def __init__(self, settings, print_fn=print):
        self.s = settings.validate()
        self.print = print_fn
        self.results = []

    def config(self, seed, precision="float32", epochs=None, **kwargs):
        s = self.s
        return Config(
            workdir=s.workdir,
            seed=seed,
            precision=precision,
            epochs=epochs or s.epochs,
            batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            temperature=s.temperature,
            alpha=s.alpha,
            smoke=s.smoke,
            **kwargs,
        )

    def teacher(self, model, precision="float32", epochs=None, examples=0):
        epochs = epochs or self.s.teacher_epochs
        config = self.config(0, precision, epochs, teacher_model=model, train_examples=examples)
        folder = os.path.join(self.s.workdir, "teachers", f"{model}_{precision}_e{epochs}_n{examples}")
        start = time.perf_counter()
        result = train_teacher.run(config, folder)
        keras.mixed_precision.set_dtype_policy("float32")
        self._record("teacher", model, model, 0, precision, result, start, examples=examples)
        return result

    def student(
        self, student, row, seed, teachers, precision="float32", epochs=None, width=0, callbacks=(), examples=0
    ):
        method = "kd" if row == MULTI else row
        first = teachers.get(TEACHER) or next(iter(teachers.values()))
        paths = [first["path"]] + ([teachers[SECOND_TEACHER]["path"]] if row == MULTI else [])
        config = self.config(
            seed,
            precision,
            epochs,
            student=student,
            student_width=width,
            method=method,
            teachers=tuple(paths) if row == MULTI else (),
            teacher=paths[0] if row != "scratch" else "",
            cache_teacher=set(method.split("+")) <= _CACHEABLE,
            train_examples=examples,
        )
        folder = os.path.join(self.s.workdir, "runs", f"{precision}_e{config.epochs}_n{examples}", _slug(row))
        start = time.perf_counter()
        result = distill.run(config, folder, extra_callbacks=callbacks)
        self._record("student", student, row, seed, precision, result, start, width, examples)
        return result

    def _seconds(self, key, start):
        """Training seconds of a run: measured now, or kept from the
        invocation that trained it (a reused run takes no time)."""
        path = os.path.join(self.s.workdir, "seconds.json")
        known = json.load(open(path)) if os.path.exists(path) else {}
        seconds = round(time.perf_counter() - start, 1)
        if key not in known or seconds > known[key]:
            known[key] = seconds
            with open(path, "w") as f:
                json.dump(known, f, indent=0)
        return known[key]

    def _record(self, kind, model, row, seed, precision, result, start, width=0, examples=0):
        key = f"{kind}|{model}|w{width}|{row}|s{seed}|{precision}|{result.get('student_path', result.get('path'))}"
        entry = {
            "kind": kind,
            "model": model,
            "width": width,
            "examples": examples,
            "row": row,
            "seed": seed,
            "precision": precision,
            "params": result["params"],
            "test_accuracy": result["test_accuracy"],
            "seconds": self._seconds(key, start),
        }
        self.results.append(entry)
        self.print(
            f"[{len(self.results)}] {model}{f' w{width}' if width else ''} {row} seed {seed} {precision}: "
            f"{100 * entry['test_accuracy']:.2f}% ({entry['seconds']:.0f} s)"
        )

    # ------------------------------------------------------------- stages
    def table(self):
        teachers = {m: self.teacher(m) for m in (TEACHER, SECOND_TEACHER)}
        for student in self.s.students:
            for row in self.s.rows:
                if applicable(student, row):
                    for seed in self.s.seeds:
                        self.student(student, row, seed, teachers)
        return teachers

    def parity(self):
        out = {}
        s = self.s
        for precision in ("float32", *s.parity_precisions):
            teacher = self.teacher(s.parity_teacher, precision, s.parity_epochs, s.parity_examples)
            out[(precision, "teacher")] = teacher["test_accuracy"]
            for row in ("scratch", "kd"):
                callbacks = []
                if precision == "mixed_float16" and row == "kd":
                    callbacks = [LossScaleRecorder(os.path.join(s.workdir, "loss_scale.json"))]
                result = self.student(
                    s.parity_student,
                    row,
                    0,
                    {s.parity_teacher: teacher},
                    precision,
                    s.parity_epochs,
                    callbacks=callbacks,
                    examples=s.parity_examples,
                )
                out[(precision, row)] = result["test_accuracy"]
        return out

    def curve(self, teachers):
        points = []
        default = models.default_width(self.s.curve_student)
        for width in self.s.curve_widths:
            for row in ("scratch", "kd"):
                # The default width is the main table's run (seed 0): reused.
                result = self.student(self.s.curve_student, row, 0, teachers, width=0 if width == default else width)
                points.append((row, result["params"], result["test_accuracy"]))
        return points


def summarize(results, rows=ROWS):
    """Mean ± std over seeds, parameters and the share of the teacher-scratch
    gap closed, per (student, row), from float32 runs of the main schedule.

    Returns:
        A list of dicts with student, row, params, mean, std, n, gap_closed,
        delta (points over scratch).
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
        scratch = statistics.mean(r["test_accuracy"] for r in by_row["scratch"])
        for row in [r for r in rows if r in by_row]:
            accs = [r["test_accuracy"] for r in by_row[row]]
            mean = statistics.mean(accs)
            gap = teacher["test_accuracy"] - scratch
            out.append(
                {
                    "student": student,
                    "row": row,
                    "params": by_row[row][0]["params"],
                    "mean": mean,
                    "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                    "n": len(accs),
                    "gap_closed": (mean - scratch) / gap if gap > 0 else float("nan"),
                    "delta": 100 * (mean - scratch),
                }
            )
    return out


def format_table(summary, results, settings):
    teachers = [
        r
        for r in results
        if r["kind"] == "teacher" and r["precision"] == "float32" and r["row"] in (TEACHER, SECOND_TEACHER)
    ]
    seen, lines = set(), []
    lines.append(
        f"Fashion-MNIST test accuracy (10,000 images), mean ± std over {len(settings.seeds)} seeds. "
        f"Students: {settings.epochs} epochs, Adam {settings.learning_rate:g}, batch {settings.batch_size}, "
        f"T = {settings.temperature:g}, hard-label weight α = {settings.alpha:g} (soft labels 1 − α); "
        "feature losses at their typical weights (fitnet 1, at 1000, rkd 1, sp 3000, pkt 30000). "
        f"Teachers: {settings.teacher_epochs} epochs, one run (seed 0); the seeds vary the student's "
        "initialisation and data order. Gap closed = (method − scratch) / (teacher − scratch), with the "
        f"{TEACHER} teacher."
    )
    lines += [
        "",
        "| model | method | parameters | test accuracy | Δ vs scratch | gap closed |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in teachers:
        if t["row"] not in seen:
            seen.add(t["row"])
            lines.append(f"| {t['row']} | teacher | {t['params']:,} | {100 * t['test_accuracy']:.2f} |  |  |")
    for r in summary:
        std = f" ± {100 * r['std']:.2f}" if r["n"] > 1 else ""
        delta = "" if r["row"] == "scratch" else f"{r['delta']:+.2f}"
        gap = "" if r["row"] == "scratch" else f"{100 * r['gap_closed']:.0f}%"
        lines.append(
            f"| {r['student']} | {r['row']} | {r['params']:,} | {100 * r['mean']:.2f}{std} | {delta} | {gap} |"
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


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "The accuracy benchmark draws its plots with matplotlib. Fix: "
            "pip install 'tfkd[plots]' (or pip install matplotlib)."
        ) from e
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def plot_curve(points, teacher_accuracy, path):
    """Test accuracy against student parameters (log x), scratch vs kd."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for row, style in (("scratch", "o--"), ("kd", "s-")):
        xs = [p for r, p, _ in points if r == row]
        ys = [100 * a for r, _, a in points if r == row]
        ax.plot(xs, ys, style, label=f"student, {row}")
    ax.axhline(100 * teacher_accuracy, color="k", lw=1, label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("student parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST: accuracy vs student size")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_loss_scale(record_path, path):
    """The loss scale per step of the mixed_float16 kd run, with skipped steps."""
    plt = _pyplot()
    with open(record_path) as f:
        record = json.load(f)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(record["loss_scale"], lw=1)
    skipped = [
        i
        for i in range(1, len(record["nonfinite_steps"]))
        if record["nonfinite_steps"][i] > record["nonfinite_steps"][i - 1]
    ]
    ax.plot(skipped, [record["loss_scale"][i] for i in skipped], "rx", label=f"skipped steps ({len(skipped)})")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss scale")
    ax.set_title("mixed_float16 kd: dynamic loss scale")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return len(skipped)


def rebuild_table(settings):
    """Rewrites `table.md` from the workdir's `results.csv` (no training).

    Returns:
        The table's text.
    """
    types = {"width": int, "examples": int, "seed": int, "params": int, "test_accuracy": float, "seconds": float}
    with open(os.path.join(settings.workdir, "results.csv")) as f:
        results = [{k: types.get(k, str)(v) for k, v in r.items()} for r in csv.DictReader(f)]
    table = format_table(summarize(results, settings.rows), results, settings)
    with open(os.path.join(settings.workdir, "table.md"), "w") as f:
        f.write(table + "\n")
    return table


def _commit():
    """The git commit of the code that ran (or "unknown")."""
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=os.path.dirname(os.path.abspath(__file__)),
                timeout=10,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run(settings, print_fn=print):
    """Runs the whole benchmark and writes into `settings.workdir`:
    `results.csv` (every run), `table.md`, `parity.md`, `compression.png`,
    `loss_scale.png` and `summary.json` (versions, wall time).

    Args:
        settings: a `Settings`.
        print_fn: where progress lines and tables go.

    Returns:
        A dict with `summary`, `parity`, `curve` and the file paths.

    Raises:
        ValueError: for bad settings, before any training.
    """
    start = time.perf_counter()
    bench = Benchmark(settings, print_fn)
    teachers = bench.table()
    parity = bench.parity() if settings.parity_precisions else {}
    curve = bench.curve(teachers) if settings.curve_widths else []
    workdir = settings.workdir
    with open(os.path.join(workdir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(bench.results[0]))
        writer.writeheader()
        writer.writerows(bench.results)
    summary = summarize(bench.results, settings.rows)
    files = {"table": os.path.join(workdir, "table.md"), "results": os.path.join(workdir, "results.csv")}
    table = format_table(summary, bench.results, settings)
    with open(files["table"], "w") as f:
        f.write(table + "\n")
    print_fn(table)
    skipped = None
    if parity:
        files["parity"] = os.path.join(workdir, "parity.md")
        with open(files["parity"], "w") as f:
            f.write(format_parity(parity, settings) + "\n")
        print_fn(format_parity(parity, settings))
        record = os.path.join(workdir, "loss_scale.json")
        if os.path.exists(record):
            files["loss_scale"] = os.path.join(workdir, "loss_scale.png")
            skipped = plot_loss_scale(record, files["loss_scale"])
    if curve:
        files["curve"] = os.path.join(workdir, "compression.png")
        plot_curve(curve, teachers[TEACHER]["test_accuracy"], files["curve"])
    info = {
        "commit": _commit(),
        "wall_seconds_this_invocation": round(time.perf_counter() - start),
        "train_seconds_all_runs": round(sum(r["seconds"] for r in bench.results)),
        "skipped_steps_mixed_float16": skipped,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "settings": dataclasses.asdict(settings),
    }
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(info, f, indent=1)
    return {"summary": summary, "parity": parity, "curve": curve, "files": files, "info": info}
