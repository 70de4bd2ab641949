"""Library side of `recipes/benchmark_accuracy.py`: the accuracy table over
seeds, mixed-precision parity and the compression curve, on Fashion-MNIST."""

import csv
import dataclasses
import json
import os
import platform
import time

import keras
import tensorflow as tf

from recipes.lib import common as distill_common
from recipes.lib import config as config_lib
from recipes.lib import distill, measure, shipped, train_teacher
from recipes.lib.accuracy_report import format_curve, format_parity, format_table, summarize
from recipes.lib.accuracy_rows import (
    CACHED_METHODS,
    MIXUP,
    MULTI_ROWS,
    ONLINE,
    ROWS,
    SECOND_TEACHER,
    STUDENTS,
    TEACHER,
    TOP5,
    applicable,
    label_weighted,
    parse,
    slug,
)
from recipes.lib.config import Config
from recipes.lib.plots import plot_curve, plot_loss_scale


@dataclasses.dataclass
class Settings:
    """What the benchmark runs; every row of a student shares its schedule,
    augmentation and epochs; distillation settings come from `tuned`
    (`{student_key: {search: {field: value}}}`: what `tune.py` found on
    the validation split, carried by `recipes/configs/benchmark_accuracy.py`)."""

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
    mixup: float = MIXUP  # Beta(mixup, mixup) of every '+mixup' row, scratch and distilled alike
    augment: str = "default"  # "default": each student's own (STUDENTS); "on"/"off" for every row
    batch_size: int = 128
    learning_rate: float = 2e-3  # peak learning rate of every student row (teachers keep their own)
    cache_on_disk: bool = False  # teacher views under workdir/teacher_cache, reused by every run that matches
    parity_precisions: tuple = ()
    parity_teacher: str = "mlp_teacher"
    parity_student: str = "mlp_small"
    parity_epochs: int = 1
    parity_examples: int = 10000
    curve_student: str = "mlp"
    curve_widths: tuple = (32, 128, 256)
    curve_seeds: tuple = (0,)
    tuned: dict = dataclasses.field(default_factory=dict)
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
            raise ValueError(f"--config.augment must be 'default', 'on' or 'off', got {self.augment!r}.")
        if not self.seeds:
            raise ValueError("--config.seeds is empty; give at least one seed.")
        if not self.mixup > 0:
            raise ValueError(f"--config.mixup must be > 0 (the Beta(a, a) of the '+mixup' rows), got {self.mixup!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"--config.learning_rate must be > 0, got {self.learning_rate!r}.")
        for name in ("parity_epochs", "parity_examples", "batch_size", "views"):
            if getattr(self, name) < 1:
                raise ValueError(f"--config.{name} must be >= 1, got {getattr(self, name)}.")
        Config(workdir=self.workdir).validate()  # writable workdir
        return self


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
        spec = dict(STUDENTS[student])
        student_epochs = spec.pop("epochs")
        epochs = epochs or self.s.epochs or student_epochs
        if width is not None:
            spec["student_width"] = width
        if self.s.augment != "default":
            spec["augment"] = self.s.augment == "on"
        method, standardize, mixup, two_teachers, tuned_key = parse(row)
        mixup = self.s.mixup if mixup else 0.0
        config = self.config(
            seed,
            precision,
            epochs,
            method=method,
            mixup=mixup,
            train_examples=examples,
            learning_rate=self.s.learning_rate,
            cache_on_disk=self.s.cache_on_disk,
            **spec,
        )
        if method != "scratch":
            # Settings found on the validation split: those of plain kd, then
            # those of the row's own search where there is one (kd_mixup for
            # function matching, kd_std for standardized soft labels), then,
            # for a logit method's '+mixup' row, those of its search on mixup
            # views (kd_std_mixup, dist_mixup, dkd_mixup, dkd_std_mixup) where
            # there is one. DKD on standardized logits starts from plain DKD's.
            keys = ["kd"] + (["dkd"] if tuned_key == "dkd_std" else []) + [tuned_key]
            keys += [f"{tuned_key}_mixup"] if mixup and tuned_key != "kd_mixup" else []
            for key in keys:
                config = config_lib.tuned_config(config, self.s.tuned, key)
        if row == "kd pure":
            config = dataclasses.replace(config, alpha=0.0)
        if standardize:
            config = dataclasses.replace(config, standardize=True)
        if label_weighted(row):
            config = dataclasses.replace(config, dkd_mixed_labels="weighted")
        paths = [teachers[TEACHER]["path"]] + ([teachers[SECOND_TEACHER]["path"]] if two_teachers else [])
        augmented = config.augment or config.mixup
        return dataclasses.replace(
            config,
            teachers=tuple(paths) if two_teachers else (),
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
        schedule = f"{precision}_e{config.epochs}_n{examples}"
        schedule += "" if self.s.learning_rate == Settings.learning_rate else f"_lr{self.s.learning_rate:g}"
        folder = os.path.join(self.s.workdir, "runs", schedule, student, slug(row))
        start = time.perf_counter()
        identity = {"student": student, "row": row, "width": config.student_width, "examples": examples}
        identity["precision"] = precision
        result = distill.run(config, folder, extra_callbacks=callbacks, identity=identity)
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
                    callbacks = [measure.LossScaleRecorder(os.path.join(s.workdir, "loss_scale.json"))]
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


def run_results(workdir):
    """The `result.json` of every finished student run under `workdir/runs`
    that names its row (`identity`), each with its `student_path`."""
    out = []
    for folder, _, files in sorted(os.walk(os.path.join(workdir, "runs"))):
        if "result.json" in files and "student.keras" in files:
            with open(os.path.join(folder, "result.json")) as f:
                result = json.load(f)
            if "identity" in result:
                out.append({**result, "student_path": os.path.join(folder, "student.keras")})
    return out


def settings_of(config, workdir=None):
    """A validated `Settings` from a config of
    `recipes/configs/benchmark_accuracy.py` (or a `Settings`, returned
    with `workdir` if given)."""
    if isinstance(config, Settings):
        return dataclasses.replace(config, workdir=workdir or config.workdir).validate()
    return config_lib.to_dataclass(Settings, config, ignore=("collect",), **({"workdir": workdir} if workdir else {}))


def collect(settings, print_fn=print):
    """Rebuilds `results.csv`, `table.md` and the compression curve from the
    finished runs in `settings.workdir` (no training): for results made by
    several invocations (for instance one per student, run side by side).

    Returns:
        A dict with `summary`, `curve` and the file paths.
    """
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
    for result in run_results(workdir):
        identity = result["identity"]
        student, row, width = identity["student"], identity["row"], identity["width"]
        if identity["precision"] != "float32" or identity["examples"] or student not in STUDENTS or row not in ROWS:
            continue
        path = result["student_path"]
        seconds = next((v for k, v in known.items() if k.endswith(path)), 0.0)
        entry = {
            "kind": "student",
            "model": student,
            "width": 0 if width == STUDENTS[student]["student_width"] else width,
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


def run(config, workdir=None, print_fn=print):
    """Runs the whole benchmark and writes into the workdir: `results.csv`
    (every run), `table.md`, `parity.md`, `compression.png`,
    `loss_scale.png` and `summary.json` (versions, wall time). With
    `config.collect`, only rebuilds the tables from the finished runs.

    Args:
        config: a config of `recipes/configs/benchmark_accuracy.py`, or a
            `Settings`.
        workdir: the output folder (a `Settings`' own when None).
        print_fn: where progress lines and tables go.

    Returns:
        A dict with `summary`, `parity`, `curve` and the file paths.

    Raises:
        ValueError: for bad settings, before any training.
    """
    settings = settings_of(config, workdir)
    if not isinstance(config, Settings) and config.get("collect"):
        return collect(settings, print_fn)
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
