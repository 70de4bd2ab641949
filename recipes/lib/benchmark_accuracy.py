"""Library side of `recipes/benchmark_accuracy.py`: the accuracy table over
seeds, mixed-precision parity and the compression curve, on Fashion-MNIST."""

import csv
import dataclasses
import json
import os
import platform
import statistics
import time

import keras
import tensorflow as tf

from recipes.lib import common as distill_common
from recipes.lib import distill, train_teacher
from recipes.lib.config import Config
from tfkd import models

TEACHER, SECOND_TEACHER = "cnn_teacher", "mlp_teacher"
MULTI = "kd (2 teachers)"
# Soft labels of the two-teacher ensemble on mixup views (function matching).
MULTI_MIXUP = "kd+mixup (2 teachers)"
MULTI_ROWS = (MULTI, MULTI_MIXUP)
# Consistent kd with the teacher run on every augmented batch, and kd on
# cached views keeping only the 5 largest teacher logits: the accuracy parity
# of the view cache is "kd top-5" against "kd online".
ONLINE, TOP5 = "kd online", "kd top-5"
# Soft labels on z-scored logits (logit standardization, Sun et al. 2024).
STANDARDIZED = "kd std"
# Rows whose teacher outputs (logits, CRD's penultimate features) are cached.
CACHED_METHODS = ("kd", "dkd", "dist", "crd")
# Rows: scratch with and without mixup (the better is the baseline), soft
# labels, soft labels on mixup views (function matching, Beyer et al. 2022),
# pure distillation (no hard labels), feature methods, two teachers.
ROWS = (
    "scratch",
    "scratch+mixup",
    "kd",
    "kd+mixup",
    "kd pure",
    ONLINE,
    TOP5,
    "fitnet",
    "at",
    "rkd",
    "sp",
    "pkt",
    "kd+at",
    MULTI,
    MULTI_MIXUP,
    "dkd",
    "dist",
    STANDARDIZED,
    "crd",
    "kd+crd",
)
SCRATCH_ROWS = ("scratch", "scratch+mixup")
# The reference students: builder, width and the augmentation that served
# it best from scratch on the validation split (an MLP is not translation
# invariant: random shifts cost it 2 points; the 20-epoch CNN did as well or
# better without them, 91.58 vs 91.40; see docs/results.md).
STUDENTS = {
    "mlp": {"student": "mlp_small", "student_width": 128, "augment": False, "epochs": 60},
    "cnn": {"student": "cnn_flat", "student_width": 8, "augment": False, "epochs": 20},
}
MIXUP = 0.2


@dataclasses.dataclass
class Settings:
    """What the benchmark runs; every row of a student shares its schedule,
    augmentation and epochs; distillation settings come from tune.py
    (`recipes/results/tuned.json`, found on the validation split)."""

    workdir: str = "workdirs/benchmark_accuracy"
    seeds: tuple = (0, 1, 2)
    students: tuple = ("mlp", "cnn")
    rows: tuple = ("scratch", "scratch+mixup", "kd", "kd+mixup", "kd pure")
    teacher: str = ""  # "" = the shipped teacher (saved_models/), else train one
    teacher_epochs: int = 0  # 0 = train_teacher's default
    second_teacher_epochs: int = 15
    second_teacher: str = ""  # "" = train an mlp_teacher for the two-teacher row, else this .keras file
    epochs: int = 0  # 0 = each student's own (STUDENTS)
    views: int = 8  # cached teacher views for augmented rows
    augment: str = "default"  # "default": each student's own (STUDENTS); "on"/"off" for every row
    batch_size: int = 128
    parity_precisions: tuple = ()
    parity_teacher: str = "mlp_teacher"
    parity_student: str = "mlp_small"
    parity_epochs: int = 1
    parity_examples: int = 10000
    curve_student: str = "mlp"
    curve_widths: tuple = (32, 128, 256)
    curve_seeds: tuple = (0,)
    smoke: bool = False

    def validate(self):
        """Raises a one-line ValueError for the first bad setting."""
        bad = [r for r in self.rows if r not in ROWS]
        if bad:
            raise ValueError(f"Unknown row(s) {bad}; expected names from {list(ROWS)}.")
        if "scratch" not in self.rows:
            raise ValueError("The rows must include 'scratch': the gap closed is measured from it.")
        bad = [s for s in (*self.students, self.curve_student) if s not in STUDENTS]
        if bad:
            raise ValueError(f"Unknown student(s) {bad}; expected names from {list(STUDENTS)}.")
        if self.augment not in ("default", "on", "off"):
            raise ValueError(f"--augment must be 'default', 'on' or 'off', got {self.augment!r}.")
        if not self.seeds:
            raise ValueError("--seeds is empty; give at least one seed.")
        for name in ("parity_epochs", "parity_examples", "batch_size", "views"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}.")
        Config(workdir=self.workdir).validate()  # writable workdir
        return self


def applicable(student, row):
    """Whether `row` can run on `student` (attention transfer needs conv maps)."""
    name = STUDENTS[student]["student"] if student in STUDENTS else student
    return not ("at" in row.replace(" ", "+").split("+") and "block1" not in models.TAPS.get(name, {}))


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
        os.makedirs(self.s.workdir, exist_ok=True)
        self.print = print_fn
        self.results = []
        self.teacher_path = None

    def config(self, seed, precision="float32", epochs=None, **kwargs):
        s = self.s
        return Config(
            workdir=s.workdir,
            seed=seed,
            precision=precision,
            epochs=epochs or s.epochs,
            batch_size=s.batch_size,
            smoke=s.smoke,
            **kwargs,
        )

    def teacher(self, model, precision="float32", epochs=None, examples=0, **kwargs):
        epochs = epochs or (self.s.teacher_epochs if model == TEACHER else self.s.second_teacher_epochs)
        config = self.config(0, precision, epochs, teacher_model=model, train_examples=examples, **kwargs)
        folder = os.path.join(self.s.workdir, "teachers", f"{model}_{precision}_e{epochs}_n{examples}")
        start = time.perf_counter()
        result = train_teacher.run(config, folder)
        keras.mixed_precision.set_dtype_policy("float32")
        self._record("teacher", model, model, 0, precision, result, start, examples=examples)
        return result

    def main_teacher(self):
        """The shipped teacher (evaluated here), or one trained with defaults."""
        from recipes.lib import shipped

        path = self.s.teacher or shipped.teacher_path()
        if self.s.smoke or not os.path.exists(path):
            result = self.teacher(TEACHER)
        else:
            result = self.loaded_teacher(path, TEACHER)
        self.teacher_path = result["path"]
        return result

    def loaded_teacher(self, path, role):
        """A teacher from a `.keras` file, evaluated on the validation and
        test splits and recorded in the table as `role`."""
        if not os.path.exists(path):
            raise ValueError(f"No teacher file at {path!r}. Fix: pass the path of a trained .keras model.")
        start = time.perf_counter()
        model = distill_common.load_model(path)
        val, test, _ = distill_common.splits(self.config(0))
        model.compile(**{k: v for k, v in distill_common.compile_args(self.config(0)).items() if k != "optimizer"})
        result = {
            "path": path,
            "params": model.count_params(),
            "val_accuracy": float(model.evaluate(val, verbose=0)[1]),
            "test_accuracy": float(model.evaluate(test, verbose=0)[1]),
        }
        label = role if role == TEACHER else f"{model.name} ({os.path.basename(os.path.dirname(path)) or path})"
        self._record("teacher", label, role, 0, "float32", result, start)
        return result

    def row_config(self, student, row, seed, teachers, width=None, precision="float32", epochs=None, examples=0):
        from recipes.lib import shipped

        spec = dict(STUDENTS[student])
        student_epochs = spec.pop("epochs")
        epochs = epochs or self.s.epochs or student_epochs
        if width is not None:
            spec["student_width"] = width
        if self.s.augment != "default":
            spec["augment"] = self.s.augment == "on"
        mixup = MIXUP if "+mixup" in row else 0.0
        soft_label_rows = ("kd+mixup", "kd pure", ONLINE, TOP5, STANDARDIZED, *MULTI_ROWS)
        method = "scratch" if row in SCRATCH_ROWS else "kd" if row in soft_label_rows else row
        config = self.config(seed, precision, epochs, method=method, mixup=mixup, train_examples=examples, **spec)
        if method != "scratch":
            # Settings found on the validation split; rows with mixup tuned with it.
            # Settings of the row's own search where there is one (kd_mixup for
            # function matching), else those found for plain kd.
            config = shipped.tuned(shipped.tuned(config, "kd"), "kd_mixup" if mixup else method.split("+")[-1])
        if row == "kd pure":
            config = dataclasses.replace(config, alpha=0.0)
        if row == STANDARDIZED:
            config = shipped.tuned(dataclasses.replace(config, standardize=True), "kd_std")
        paths = [teachers[TEACHER]["path"]] + ([teachers[SECOND_TEACHER]["path"]] if row in MULTI_ROWS else [])
        augmented = config.augment or config.mixup
        return dataclasses.replace(
            config,
            teachers=tuple(paths) if row in MULTI_ROWS else (),
            teacher=paths[0] if method != "scratch" else "",
            reference_teacher=teachers[TEACHER]["path"],
            cache_teacher=all(m in CACHED_METHODS for m in method.split("+")) and row != ONLINE,
            views=self.s.views if augmented else 1,
            top_k=5 if row == TOP5 else 0,
        )

    def student(
        self, student, row, seed, teachers, width=None, precision="float32", epochs=None, callbacks=(), examples=0
    ):
        config = self.row_config(student, row, seed, teachers, width, precision, epochs, examples)
        folder = os.path.join(self.s.workdir, "runs", f"{precision}_e{config.epochs}_n{examples}", student, _slug(row))
        start = time.perf_counter()
        result = distill.run(config, folder, extra_callbacks=callbacks)
        self._record("student", student, row, seed, precision, result, start, 0 if width is None else width, examples)
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
            "val_accuracy": result.get("val_accuracy", float("nan")),
            "agreement": result.get("agreement", float("nan")),
            "seconds": self._seconds(key, start),
        }
        self.results.append(entry)
        self.print(
            f"[{len(self.results)}] {model}{f' w{width}' if width else ''} {row} seed {seed} {precision}: "
            f"{100 * entry['test_accuracy']:.2f}% ({entry['seconds']:.0f} s)"
        )

    # ------------------------------------------------------------- stages
    def table(self):
        teachers = {TEACHER: self.main_teacher()}
        if any(row in self.s.rows for row in MULTI_ROWS):
            teachers[SECOND_TEACHER] = (
                self.loaded_teacher(self.s.second_teacher, SECOND_TEACHER)
                if self.s.second_teacher
                else self.teacher(SECOND_TEACHER, augment=False)
            )
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
                    "mlp",
                    row,
                    0,
                    {TEACHER: teacher},
                    None,
                    precision,
                    s.parity_epochs,
                    callbacks=callbacks,
                    examples=s.parity_examples,
                )
                out[(precision, row)] = result["test_accuracy"]
        return out

    def curve(self, teachers):
        """Scratch and kd at each width; the reference width reuses the main
        table's runs (all seeds)."""
        points = []
        default = STUDENTS[self.s.curve_student]["student_width"]
        for width in self.s.curve_widths:
            seeds = self.s.seeds if width == default else self.s.curve_seeds
            for row in ("scratch", "kd"):
                for seed in seeds:
                    result = self.student(
                        self.s.curve_student, row, seed, teachers, width=None if width == default else width
                    )
                    points.append((row, result["params"], result["test_accuracy"], seed))
        return points


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
        f"{epochs}; Adam 2e-3, 1 warm-up epoch, cosine decay, batch 128) and augmentation (none, chosen on the "
        "validation split; the rows 'kd online' and 'kd top-5' use 2-pixel shifts and flips); '+mixup' adds mixup "
        "(Beta(0.2, 0.2)), with the teacher on the same mixed images "
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
        by_size = {}
        for r, p, a, _ in points:
            if r == row:
                by_size.setdefault(p, []).append(a)
        xs = sorted(by_size)
        ys = [100 * statistics.mean(by_size[x]) for x in xs]
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


def collect(settings, print_fn=print):
    """Rebuilds `results.csv`, `table.md` and the compression curve from the
    finished runs in `settings.workdir` (no training): for results made by
    several invocations (for instance one per student, run side by side).

    Returns:
        A dict with `summary`, `curve` and the file paths.
    """
    from recipes.lib import shipped

    workdir = settings.workdir
    known = {}
    if os.path.exists(os.path.join(workdir, "seconds.json")):
        with open(os.path.join(workdir, "seconds.json")) as f:
            known = json.load(f)
    record = shipped.teacher_record()
    results = [
        {
            "kind": "teacher",
            "model": TEACHER,
            "width": 0,
            "examples": 0,
            "row": TEACHER,
            "seed": 0,
            "precision": "float32",
            "params": record["params"],
            "test_accuracy": record["test_accuracy"],
            "val_accuracy": record.get("val_accuracy", float("nan")),
            "agreement": 1.0,
            "seconds": 0.0,
        }
    ]
    curve = []
    root = os.path.join(workdir, "runs")
    for folder, _, files in sorted(os.walk(root)):
        parts = os.path.relpath(folder, root).split(os.sep)
        if "result.json" not in files or len(parts) != 4 or parts[1] not in STUDENTS:
            continue
        (precision, epochs_examples), student, slug, name = parts[0].split("_", 1), parts[1], parts[2], parts[3]
        row = next((r for r in ROWS if _slug(r) == slug), None)
        if row is None or precision != "float32" or not epochs_examples.endswith("_n0"):
            continue
        with open(os.path.join(folder, "result.json")) as f:
            result = json.load(f)
        default = STUDENTS[student]["student_width"]
        width = int(name.split("_w")[1].split("_")[0]) if "_w" in name else 0
        seconds = next((v for k, v in known.items() if k.endswith(os.path.join(folder, "student.keras"))), 0.0)
        entry = {
            "kind": "student",
            "model": student,
            "width": 0 if width == default else width,
            "examples": 0,
            "row": row,
            "seed": result["seed"],
            "precision": "float32",
            "params": result["params"],
            "test_accuracy": result["test_accuracy"],
            "val_accuracy": result.get("val_accuracy", float("nan")),
            "agreement": result.get("agreement", float("nan")),
            "seconds": seconds,
        }
        results.append(entry)
        if student == settings.curve_student and row in ("scratch", "kd") and (width in settings.curve_widths):
            curve.append((row, result["params"], result["test_accuracy"], result["seed"]))
    with open(os.path.join(workdir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(results[0]))
        writer.writeheader()
        writer.writerows(results)
    summary = summarize(results, settings.rows)
    files = {"table": os.path.join(workdir, "table.md"), "results": os.path.join(workdir, "results.csv")}
    table = format_table(summary, results, settings)
    with open(files["table"], "w") as f:
        f.write(table + "\n")
    print_fn(table)
    if curve:
        files["curve"] = os.path.join(workdir, "compression.png")
        plot_curve(curve, record["test_accuracy"], files["curve"])
        files["curve_table"] = os.path.join(workdir, "compression.md")
        with open(files["curve_table"], "w") as f:
            f.write(format_curve(curve) + "\n")
        print_fn(format_curve(curve))
    return {"summary": summary, "curve": curve, "files": files}


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
        files["curve_table"] = os.path.join(workdir, "compression.md")
        with open(files["curve_table"], "w") as f:
            f.write(format_curve(curve) + "\n")
        print_fn(format_curve(curve))
    info = {
        "commit": distill_common.commit(),
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
