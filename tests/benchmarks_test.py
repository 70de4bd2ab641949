"""The benchmark recipes at smoke size: every row, column and file."""

import csv
import dataclasses
import os
import subprocess
import sys

import pytest

import tfkd
from recipes.configs import benchmark_accuracy as accuracy_config
from recipes.configs import benchmark_speed as speed_config
from recipes.lib import benchmark_accuracy, benchmark_memory, benchmark_speed, methods
from recipes.lib.accuracy_report import format_table

pytestmark = pytest.mark.slow


def test_speed_benchmark_smoke(tmp_path):
    config = speed_config.get_config("smoke")
    rows = benchmark_speed.run(config, str(tmp_path), print_fn=lambda *_: None)
    names = [r["row"] for r in rows]
    assert names == [
        "input pipeline alone",
        "teacher inference",
        "student only (student.fit)",
        "limit: kd (hand-written tf.function)",
        "limit: kd + 2 hints (hand-written)",
        "tfkd kd",
        "keras.distillation kd",  # timed in alternation with the row above
        "tfkd kd + 2 hints",
        "tfkd kd, jit_compile",
        "tfkd kd, cached teacher outputs",
        "student only, augmented (student.fit)",
        "tfkd kd online, augmented",
        "tfkd kd, cached views (K=8, top-5)",
    ]
    views = next(r for r in rows if r["row"].startswith("tfkd kd, cached views"))
    assert views["cache_fill_s"] > 0 and views["cache_mib"] > 0 and views["break_even_epochs"] > 0
    for r in rows:
        assert r["examples_per_s"] > 0 and r["peak_rss_mb"] > 0
        assert (r["ratio"] is None) == (r["reference"] == "")
    table = open(tmp_path / "speed.md").read()
    assert table.startswith("| pair | row | examples/s | ratio | to | peak RSS | added RSS |")
    assert "small, tfkd kd vs keras.distillation kd: tfkd's epoch time" in table and "2 rounds" in table
    assert len(list(csv.DictReader(open(tmp_path / "speed.csv")))) == len(rows)


def test_paired_ratio_is_the_median_of_per_round_ratios():
    median, low, high = benchmark_speed.paired_ratio([1.0, 2.2, 3.0], [1.0, 2.0, 2.0])
    assert (median, low, high) == pytest.approx((1.1, 1.0, 1.5))
    rows = [
        {"pair": "wide", "row": "tfkd kd + 2 hints", "rounds": [1.0, 2.0]},
        {
            "pair": "wide",
            "row": "keras.distillation kd + 2 features",
            "rounds": [2.0, 2.0],
            "versus": "tfkd kd + 2 hints",
        },
    ]
    assert "wide, tfkd kd + 2 hints vs keras.distillation kd + 2 features" in benchmark_speed.format_duels(rows)
    assert "median 0.750 (range 0.500–1.000, 2 rounds)" in benchmark_speed.format_duels(rows)


def test_memory_probes_run_in_their_own_processes():
    student, cached = benchmark_memory.memory_rows(256, log=lambda *_: None)
    assert student["kind"] == "student only, augmented" and "cache_mib" not in student
    # 256 examples x 8 views x top-5, at most 8 bytes per kept logit (value + index)
    assert 0 < cached["cache_mib"] <= 256 * 8 * 5 * 8 / 2**20
    assert cached["peak_rss_mb"] > 100 and student["peak_rss_mb"] > 100  # a TensorFlow process
    assert cached["limit_mb"] == pytest.approx(1.1 * (student["peak_rss_mb"] + cached["cache_mib"]))
    assert "Target: ≤ student-only + cache + 10%" in benchmark_memory.format_memory([student, cached])


def test_accuracy_benchmark_smoke(tmp_path):
    settings = benchmark_accuracy.Settings(
        workdir=str(tmp_path),
        seeds=(0,),
        students=("mlp",),
        rows=("scratch", "kd", "at"),
        epochs=1,
        parity_precisions=("mixed_bfloat16",),
        curve_widths=(4, 128),
        smoke=True,
    )
    out = benchmark_accuracy.run(settings, print_fn=lambda *_: None)
    assert [(r["student"], r["row"]) for r in out["summary"]] == [
        ("mlp", "scratch"),
        ("mlp", "kd"),
    ]  # no attention transfer without conv maps
    assert benchmark_accuracy.applicable("cnn", "kd+at") and not benchmark_accuracy.applicable("mlp", "at")
    table = open(out["files"]["table"]).read()
    assert "| model | method | parameters | test accuracy | Δ vs scratch | σ | gap closed | agreement |" in table
    assert "| cnn_teacher | teacher | 157,610 |" in table and "| mlp_small | scratch * |" in table
    parity = open(out["files"]["parity"]).read()
    assert "| row | float32 | mixed_bfloat16 |" in parity and "| kd |" in parity
    assert [p[0] for p in out["curve"]] == ["scratch", "kd", "scratch", "kd"]
    assert os.path.getsize(out["files"]["curve"]) > 1000  # a PNG with a plot in it
    assert "| parameters | seeds | scratch | kd | Δ |" in open(out["files"]["curve_table"]).read()
    results = list(csv.DictReader(open(out["files"]["results"])))
    assert {"kind", "model", "row", "seed", "precision", "params", "test_accuracy", "agreement"} <= set(results[0])
    assert len(results) == 1 + 2 + 2 * 3 + 4  # teacher, table, parity (2 precisions x 3 rows), curve
    # A second invocation reuses every finished run.
    again = benchmark_accuracy.run(settings, print_fn=lambda *_: None)
    assert [r["mean"] for r in again["summary"]] == [r["mean"] for r in out["summary"]]


def test_accuracy_benchmark_cache_parity_rows(tmp_path):
    """'kd online' runs the teacher every step; 'kd top-5' and 'kd' replay
    cached views (top-5 keeps 5 logits); scratch rows never cache."""
    settings = benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, augment="on")
    bench = benchmark_accuracy.Benchmark(settings)
    teachers = {benchmark_accuracy.TEACHER: {"path": "teacher.keras"}}
    config = lambda row: bench.row_config("cnn", row, 0, teachers)  # noqa: E731
    online, top5, kd, scratch = (config(r) for r in ("kd online", "kd top-5", "kd", "scratch"))
    assert (online.method, online.cache_teacher, online.top_k) == ("kd", False, 0)
    assert (top5.method, top5.cache_teacher, top5.top_k, top5.views) == ("kd", True, 5, 8)
    assert (kd.cache_teacher, kd.top_k, kd.views) == (True, 0, 8)
    assert (scratch.method, scratch.cache_teacher, scratch.teacher) == ("scratch", False, "")
    assert online.augment and online.temperature == kd.temperature and online.alpha == kd.alpha
    plain = benchmark_accuracy.Benchmark(benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True))
    assert not plain.row_config("cnn", "kd", 0, teachers).augment  # the CNN's own: no augmentation
    assert plain.row_config("cnn", "kd", 0, teachers).views == 1


def test_the_learning_rate_reaches_every_student_row_its_folder_and_the_caption(tmp_path, monkeypatch):
    teachers = {"cnn_teacher": {"path": "t.keras"}, "mlp_teacher": {"path": "m.keras"}}
    default = benchmark_accuracy.Benchmark(benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True))
    faster = benchmark_accuracy.Benchmark(
        benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, learning_rate=8e-3, cache_on_disk=True)
    )
    for row in ("scratch", "scratch+mixup", "dkd+mixup (2 teachers)"):
        assert default.row_config("mlp", row, 0, teachers).learning_rate == 2e-3, row
        config = faster.row_config("mlp", row, 0, teachers)
        assert (config.learning_rate, config.cache_on_disk) == (8e-3, True), row
    assert "Adam 2e-3, 1 warm-up epoch" in format_table([], [], default.s)
    assert "Adam 8e-3, 1 warm-up epoch" in format_table([], [], faster.s)
    folders = []
    fake = {"params": 1, "test_accuracy": 0.5, "student_path": "s.keras"}
    monkeypatch.setattr(benchmark_accuracy.distill, "run", lambda config, folder, **_: folders.append(folder) or fake)
    default.student("mlp", "scratch", 0, teachers)
    faster.student("mlp", "scratch", 0, teachers)
    assert [os.path.basename(os.path.dirname(os.path.dirname(f))) for f in folders] == [
        "float32_e60_n0",
        "float32_e60_n0_lr0.008",
    ]
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        benchmark_accuracy.Settings(workdir=str(tmp_path), learning_rate=0.0).validate()


def test_two_teacher_rows_take_both_teachers_and_mixup_only_where_named(tmp_path):
    bench = benchmark_accuracy.Benchmark(benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True))
    teachers = {
        benchmark_accuracy.TEACHER: {"path": "a.keras"},
        benchmark_accuracy.SECOND_TEACHER: {"path": "b.keras"},
    }
    two, two_mixup, one_mixup = (
        bench.row_config("mlp", r, 0, teachers) for r in ("kd (2 teachers)", "kd+mixup (2 teachers)", "kd+mixup")
    )
    assert (two.teachers, two.mixup, two.views, two.method) == (("a.keras", "b.keras"), 0.0, 1, "kd")
    assert (two_mixup.teachers, two_mixup.views, two_mixup.method) == (("a.keras", "b.keras"), 8, "kd")
    assert two_mixup.mixup == one_mixup.mixup > 0 and two_mixup.cache_teacher
    assert one_mixup.teachers == () and one_mixup.teacher == "a.keras"


def test_the_mixup_strength_reaches_every_mixup_row_and_the_caption(tmp_path):
    bench = benchmark_accuracy.Benchmark(benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, mixup=1.0))
    teachers = {"cnn_teacher": {"path": "t.keras"}, "mlp_teacher": {"path": "m.keras"}}
    for row, strength in [("scratch", 0.0), ("scratch+mixup", 1.0), ("kd+mixup (2 teachers)", 1.0), ("kd", 0.0)]:
        assert bench.row_config("mlp", row, 0, teachers).mixup == strength, row
    caption = format_table([], [], bench.s)
    assert "'+mixup' adds mixup (Beta(1, 1))" in caption


def test_logit_method_rows_on_the_ensemble_take_their_own_tuned_settings(tmp_path):
    """'kd std+mixup (2 teachers)' is standardized kd on both teachers'
    mixup views with the T and α of kd_std_mixup's search (that setting's
    own), or of kd_std's where there is none; 'dist+mixup (2 teachers)' is
    DIST with dist_mixup's, or dist's; neither takes the other's settings."""
    import copy

    teachers = {
        benchmark_accuracy.TEACHER: {"path": "a.keras"},
        benchmark_accuracy.SECOND_TEACHER: {"path": "b.keras"},
    }
    rows = ("kd std+mixup (2 teachers)", "dist+mixup (2 teachers)", "kd std", "kd+mixup (2 teachers)")

    def configs(tuned):
        settings = benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, tuned=tuned)
        bench = benchmark_accuracy.Benchmark(settings)
        return [bench.row_config("mlp", r, 0, teachers) for r in rows]

    plain = copy.deepcopy(accuracy_config.TUNED)
    for key in ("kd_std_mixup", "dist_mixup", "dkd_mixup"):
        plain["mlp_small_w128"].pop(key, None)
    tuned = plain["mlp_small_w128"]
    std_row, dist_row, std_plain, kd_row = configs(plain)
    assert (std_row.method, std_row.standardize, std_row.teachers) == ("kd", True, ("a.keras", "b.keras"))
    assert (std_row.temperature, std_row.alpha) == (tuned["kd_std"]["temperature"], tuned["kd_std"]["alpha"])
    assert (std_row.temperature, std_row.alpha) == (std_plain.temperature, std_plain.alpha)
    assert std_row.mixup > 0 and std_row.views == 8 and std_row.cache_teacher
    assert (dist_row.method, dist_row.standardize, dist_row.mixup > 0) == ("dist", False, True)
    assert (dist_row.dist_temperature, dist_row.dist_beta) == (
        tuned["dist"]["dist_temperature"],
        tuned["dist"]["dist_beta"],
    )
    assert dist_row.temperature == tuned["kd"]["temperature"]  # dist's row does not take kd std's T

    # Searches in the rows' own setting take precedence over the plain ones,
    # and reach only their own rows.
    own = copy.deepcopy(plain)
    own["mlp_small_w128"]["kd_std_mixup"] = {"temperature": 7.0, "alpha": 0.3}
    own["mlp_small_w128"]["dist_mixup"] = {"dist_temperature": 3.0, "dist_beta": 5.0, "dist_gamma": 5.0}
    std_own, dist_own, std_plain_own, kd_own = configs(own)
    assert (std_own.temperature, std_own.alpha) == (7.0, 0.3)
    assert (dist_own.dist_temperature, dist_own.dist_beta, dist_own.dist_gamma) == (3.0, 5.0, 5.0)
    assert (dist_own.temperature, dist_own.alpha) == (dist_row.temperature, dist_row.alpha)
    assert (std_plain_own.temperature, std_plain_own.alpha) == (std_plain.temperature, std_plain.alpha)
    assert (kd_own.temperature, kd_own.alpha) == (kd_row.temperature, kd_row.alpha)


def test_dkd_on_the_ensembles_mixup_views_takes_dkds_settings(tmp_path):
    """'dkd+mixup (2 teachers)' is DKD from both teachers on cached mixup
    views, with dkd_mixup's settings where that search exists, else dkd's."""
    import copy

    teachers = {
        benchmark_accuracy.TEACHER: {"path": "a.keras"},
        benchmark_accuracy.SECOND_TEACHER: {"path": "b.keras"},
    }
    plain = copy.deepcopy(accuracy_config.TUNED)
    plain["mlp_small_w128"].pop("dkd_mixup", None)
    plain["mlp_small_w128"]["dkd"] = {"dkd_temperature": 3.0, "dkd_beta": 6.0}

    def row(tuned):
        settings = benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, tuned=tuned)
        return benchmark_accuracy.Benchmark(settings).row_config("mlp", "dkd+mixup (2 teachers)", 0, teachers)

    dkd = row(plain)
    assert (dkd.method, dkd.teachers, dkd.cache_teacher, dkd.views) == ("dkd", ("a.keras", "b.keras"), True, 8)
    assert dkd.mixup > 0 and (dkd.dkd_temperature, dkd.dkd_beta) == (3.0, 6.0)
    own = copy.deepcopy(plain)
    own["mlp_small_w128"]["dkd_mixup"] = {"dkd_temperature": 1.0, "dkd_beta": 2.0}
    assert (row(own).dkd_temperature, row(own).dkd_beta) == (1.0, 2.0)


def test_dkd_on_standardized_logits_takes_dkds_settings_then_its_own(tmp_path):
    """'dkd std' is DKD on z-scored logits with dkd's settings, then
    dkd_std's where that search exists; 'dkd std+mixup (2 teachers)' adds
    the ensemble's mixup views and dkd_std_mixup's settings; the plain DKD
    rows stay unstandardized."""
    import copy

    teachers = {
        benchmark_accuracy.TEACHER: {"path": "a.keras"},
        benchmark_accuracy.SECOND_TEACHER: {"path": "b.keras"},
    }
    tuned = copy.deepcopy(accuracy_config.TUNED)
    for key in ("dkd_std", "dkd_std_mixup"):
        tuned["mlp_small_w128"].pop(key, None)
    tuned["mlp_small_w128"]["dkd"] = {"dkd_temperature": 3.0, "dkd_beta": 6.0}
    tuned["mlp_small_w128"]["dkd_mixup"] = {"dkd_temperature": 5.0, "dkd_beta": 7.0}

    def row(name):
        settings = benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, tuned=tuned)
        return benchmark_accuracy.Benchmark(settings).row_config("mlp", name, 0, teachers)

    one, two = row("dkd std"), row("dkd std+mixup (2 teachers)")
    assert (one.method, one.standardize, one.mixup, one.teachers) == ("dkd", True, 0.0, ())
    assert (two.method, two.standardize, two.teachers, two.cache_teacher) == ("dkd", True, ("a.keras", "b.keras"), True)
    assert two.mixup > 0 and two.views == 8
    for config in (one, two):  # plain DKD's settings, not DKD + mixup's
        assert (config.dkd_temperature, config.dkd_beta) == (3.0, 6.0)
    assert not row("dkd+mixup (2 teachers)").standardize and not row("dkd").standardize
    tuned["mlp_small_w128"]["dkd_std"] = {"dkd_temperature": 2.0, "dkd_beta": 1.0, "alpha": 0.1}
    tuned["mlp_small_w128"]["dkd_std_mixup"] = {"dkd_temperature": 1.0, "dkd_beta": 8.0, "alpha": 0.5}
    one, two = row("dkd std"), row("dkd std+mixup (2 teachers)")
    assert (one.dkd_temperature, one.dkd_beta, one.alpha) == (2.0, 1.0, 0.1)
    assert (two.dkd_temperature, two.dkd_beta, two.alpha) == (1.0, 8.0, 0.5)


def test_label_weighted_dkd_row_is_dkd_mixups_row_with_weighted_targets(tmp_path):
    """'dkd weighted+mixup (2 teachers)' is 'dkd+mixup (2 teachers)' (same
    settings, teachers and views) with DKD's mixed labels read as
    λ·DKD(a) + (1 − λ)·DKD(b); the DKD rows keep the dominant class."""
    import copy

    teachers = {
        benchmark_accuracy.TEACHER: {"path": "a.keras"},
        benchmark_accuracy.SECOND_TEACHER: {"path": "b.keras"},
    }
    tuned = copy.deepcopy(accuracy_config.TUNED)
    tuned["mlp_small_w128"]["dkd_mixup"] = {"dkd_temperature": 5.0, "dkd_beta": 7.0}
    settings = benchmark_accuracy.Settings(workdir=str(tmp_path), smoke=True, tuned=tuned)
    bench = benchmark_accuracy.Benchmark(settings)
    weighted = bench.row_config("mlp", "dkd weighted+mixup (2 teachers)", 0, teachers)
    plain = bench.row_config("mlp", "dkd+mixup (2 teachers)", 0, teachers)
    assert weighted.dkd_mixed_labels == "weighted" and plain.dkd_mixed_labels == "dominant"
    assert dataclasses.replace(weighted, dkd_mixed_labels="dominant") == plain
    assert (weighted.dkd_temperature, weighted.dkd_beta, weighted.teachers) == (5.0, 7.0, ("a.keras", "b.keras"))
    assert bench.row_config("mlp", "dkd", 0, teachers).dkd_mixed_labels == "dominant"
    loss = methods.build_losses(weighted, ["a", "b"], "mlp_small", 100, 10)[0]
    assert isinstance(loss, tfkd.losses.DecoupledKD) and loss.mixed_labels == "weighted"


def test_overrides_on_the_command_line_reach_the_settings_with_their_types():
    """`--config.seeds=4` and `--config.rows=...` (a comma-separated string)
    become a tuple of ints and a tuple of row names; a variant is applied
    first and overrides after it."""
    code = (
        "import sys\n"
        "sys.argv = ['x', '--config=recipes/configs/benchmark_accuracy.py:mlp_logit_methods',\n"
        "            '--config.curve_seeds=0,3', '--config.seeds=4', '--config.rows=scratch,kd std+mixup (2 teachers)']\n"
        "from absl import flags\n"
        "from recipes.lib import flags as recipe_flags\n"
        "from recipes.lib.benchmark_accuracy import settings_of\n"
        "recipe_flags.define('benchmark_accuracy')\n"
        "flags.FLAGS(sys.argv)\n"
        "s = settings_of(flags.FLAGS.config, '/tmp')\n"
        "print(s.curve_seeds, s.seeds, s.curve_widths, s.students, s.rows, s.tuned['mlp_small_w128']['kd_std'])\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == (
        "(0, 3) (4,) () ('mlp',) ('scratch', 'kd std+mixup (2 teachers)') {'alpha': 0.1, 'temperature': 4.0}"
    )


def test_deploy_benchmark_takes_the_reference_width_not_the_curve_widths(tmp_path):
    import json

    from recipes.lib import benchmark_deploy

    runs = [("a", 32, 0, "kd"), ("b", 128, 0, "kd"), ("c", 256, 0, "kd"), ("d", 128, 1, "kd"), ("e", 128, 0, "dkd")]
    for name, width, seed, row in runs:
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "student.keras").write_text("")
        identity = {"student": "mlp", "row": row, "width": width, "examples": 0, "precision": "float32"}
        (folder / "result.json").write_text(json.dumps({"seed": seed, "identity": identity}))
    found = benchmark_deploy.default_models(str(tmp_path))
    assert found["mlp_kd"] == str(tmp_path / "runs" / "b" / "student.keras")
    assert "mlp_scratch" not in found and "mlp_dkd" not in found


def test_overhead_benchmark_times_both_fits_on_the_same_batches():
    from recipes.lib import benchmark_overhead

    lines = []
    row, crd = benchmark_overhead.measure_overhead(widths=(4,), smoke=True, print_fn=lines.append)
    assert crd["negatives"] == 16 and crd["kd_s"] > 0 and crd["crd_s"] > 0 and "| 16 |" in lines[1]
    assert row["params"] == 686 and row["student_fit_s"] > 0 and row["cached_views_s"] > 0
    assert row["low"] <= row["ratio"] <= row["high"]
    assert row["ratio"] == pytest.approx(row["cached_views_s"] / row["student_fit_s"])  # one round: its ratio
    assert "| 4 | 686 |" in lines[0]


def test_compress_summary_computes_paired_gains_gap_and_epochs_from_validation():
    from recipes.lib import benchmark_compress as bc

    def rows(seed_shift, aug_val):
        def row(name, acc, val, params=40):
            return {
                "model": name,
                "params": params,
                "test_accuracy": acc + seed_shift,
                "history": {"val_accuracy": val},
            }

        return [
            row("teacher", 0.93, [0.94], params=160),
            row(bc.PRUNED, 0.92, [0.90, 0.92, 0.93]),
            row(f"{bc.PRUNED}, 1 epochs", 0.91, [0.91]),
            row(bc.RANDOM_KD, 0.91, [0.85, 0.90, 0.915]),
            row(bc.SCRATCH, 0.90, [0.84, 0.89, 0.91]),
            row(bc.SCRATCH_AUG, 0.905, [0.8, 0.85, aug_val]),
            row(bc.INT8, 0.919, []),
        ]

    # Scratch with augmentation ends lower on validation: the plain scratch row is the baseline,
    # although its test accuracy is lower (the choice is never made on the test split).
    (s,) = bc.summarize({0.5: [rows(0.0, 0.90), rows(0.002, 0.90)]}, short_epochs=1)
    assert s["scratch_best"] == bc.SCRATCH
    assert s["deltas"][bc.SCRATCH] == pytest.approx((0.02, 0.0))
    assert s["deltas"][bc.RANDOM_KD][0] == pytest.approx(0.01)
    assert s["gap_closed"] == pytest.approx((0.921 - 0.901) / (0.931 - 0.901))
    assert s["epochs_to_scratch"] == 2  # pruned + kd's mean val curve passes 0.91 at epoch 2 (0.92)
    assert s["int8_drop"][0] == pytest.approx(0.001)
    (s,) = bc.summarize({0.5: [rows(0.0, 0.95)]}, short_epochs=1)
    assert s["scratch_best"] == bc.SCRATCH_AUG
    # Without a short schedule the table has no row for it.
    (s,) = bc.summarize({0.5: [[r for r in rows(0.0, 0.90) if "epochs" not in r["model"]]]}, short_epochs=0)
    table = bc.format_table([s])
    assert "0 epochs" not in table and f"| {bc.PRUNED} " in table
    assert "1 epochs" in bc.format_table(bc.summarize({0.5: [rows(0.0, 0.90)]}, short_epochs=1))

    # A run with augmentation has the scratch row without it as the alternative, chosen the same way.
    def plain(rows):
        return [{**r, "model": bc.SCRATCH_PLAIN} if r["model"] == bc.SCRATCH_AUG else r for r in rows]

    (s,) = bc.summarize({0.5: [plain(rows(0.0, 0.95))]}, short_epochs=1)
    assert s["scratch_best"] == bc.SCRATCH_PLAIN
    assert s["deltas"][bc.SCRATCH_PLAIN] == pytest.approx((0.015, 0.0))
    table = bc.format_table([s])
    assert "scratch, no augmentation (paired)" in table and "scratch + augmentation" not in table


def test_compress_summary_names_its_rows_by_the_method():
    from recipes.lib import benchmark_compress as bc

    def row(name, acc, val):
        return {"model": name, "params": 40, "test_accuracy": acc, "history": {"val_accuracy": val}}

    rows = [
        row("teacher", 0.93, [0.94]),
        row(bc.pruned_row("dist"), 0.925, [0.90, 0.92]),
        row(bc.random_row("dist"), 0.91, [0.88, 0.905]),
        row(bc.SCRATCH, 0.90, [0.87, 0.91]),
        row(bc.int8_row("dist"), 0.924, []),
    ]
    (s,) = bc.summarize({0.5: [rows]}, short_epochs=0, method="dist")
    assert s["method"] == "dist" and s["student_params"] == 40
    assert s["deltas"][bc.random_row("dist")][0] == pytest.approx(0.015)
    assert s["int8_drop"][0] == pytest.approx(0.001)
    assert s["epochs_to_scratch"] == 2
    table = bc.format_table([s])
    assert "| pruned + dist " in table and "Δ pruned + dist vs random init, dist (paired)" in table
    assert "pruned + kd" not in table
    with pytest.raises(KeyError):  # the kd rows are not there
        bc.summarize({0.5: [rows]}, short_epochs=0)


def test_compress_benchmark_method_takes_tuned_settings_and_refuses_the_rest():
    import json

    from recipes.lib import benchmark_compress as bc
    from recipes.lib import shipped
    from recipes.lib.config import Config

    recorded = json.load(open(shipped.TUNED))["cnn_flat_w8"]
    dist = bc.method_config(Config(), bc.Settings(method="dist"))
    assert (dist.method, dist.dist_temperature, dist.dist_beta, dist.dist_gamma) == (
        "dist",
        recorded["dist"]["dist_temperature"],
        recorded["dist"]["dist_beta"],
        recorded["dist"]["dist_beta"],  # the search ties gamma to beta
    )
    kd = bc.method_config(Config(temperature=9.0), bc.Settings())
    assert (kd.method, kd.temperature, kd.alpha) == ("kd", recorded["kd"]["temperature"], recorded["kd"]["alpha"])
    for settings, match in [
        (bc.Settings(method="scratch"), "distillation method"),
        (bc.Settings(method="kd+xyz"), "distillation method"),
        (bc.Settings(method="dkd"), "no 'dkd' settings for 'cnn_flat_w8'"),
        (bc.Settings(tuned_as="cnn_huge"), "no 'kd' settings for 'cnn_huge'"),
    ]:
        with pytest.raises(ValueError, match=match):
            bc.run(dataclasses.replace(settings, teacher=shipped.TEACHER), print_fn=lambda *_: None)


def test_compress_baseline_trains_scratch_with_the_other_augmentation_choice():
    from recipes.lib import compress
    from recipes.lib.config import Config

    assert compress.alternative_augmentation(Config(augment=False)) == ({"augment": True}, " + augmentation")
    none = ({"augment": False, "mixup": 0.0, "views": 1}, ", no augmentation")
    assert compress.alternative_augmentation(Config(augment=True)) == none
    assert compress.alternative_augmentation(Config(augment=False, mixup=0.2)) == none


@pytest.mark.slow
def test_compress_benchmark_smoke_writes_its_table(tmp_path):
    from recipes.lib import benchmark_compress as bc
    from recipes.lib import shipped

    settings = bc.Settings(
        teacher=shipped.teacher_path(),
        teachers=(shipped.teacher_path(),) * 2,  # the kd rows from an ensemble (here of one model twice)
        keeps=(0.5,),
        seeds=(0,),
        epochs=2,
        short_epochs=1,
        workdir=str(tmp_path),
        smoke=True,
    )
    (s,) = bc.run(settings, print_fn=lambda *_: None)
    assert s["student_params"] == 40154 and s["seeds"] == 1
    assert set(s["rows"]) >= {"teacher", bc.PRUNED, bc.RANDOM_KD, bc.SCRATCH, bc.SCRATCH_AUG, bc.INT8}
    table = (tmp_path / "compress.md").read_text()
    assert "keep=0.5: 40,154 params (25.5%)" in table
    assert (tmp_path / "keep0.5_teachers2" / "seed0" / "rows.json").exists()
    with pytest.raises(ValueError, match="keeps"):
        bc.run(bc.Settings(teacher=settings.teacher, keeps=(1.5,)))


def test_tuned_values_in_the_configs_are_those_tune_recorded():
    """The configs carry the values tune.py found (recipes/results/tuned.json holds its searches)."""
    import json

    from recipes.configs import distill as distill_config
    from recipes.lib import shipped

    recorded = json.load(open(shipped.TUNED))
    for student, searches in accuracy_config.TUNED.items():
        for search, values in searches.items():
            assert {k: recorded[student][search][k] for k in values} == values, (student, search)
    kd = recorded["mlp_small_w128"]["kd"]
    mlp = distill_config.get_config("mlp_kd")
    assert (mlp.temperature, mlp.alpha) == (kd["temperature"], kd["alpha"])
    from recipes.configs import compress as compress_config

    dist = recorded["cnn_flat_w8"]["dist"]
    for variant in ("slimming_dist", "fifth_dist"):
        cut = compress_config.get_config(variant)
        assert cut.method == "dist" and (cut.dist_temperature, cut.dist_beta, cut.dist_gamma) == (
            dist["dist_temperature"],
            dist["dist_beta"],
            dist["dist_beta"],  # the search ties gamma to beta
        )


@pytest.mark.parametrize(
    "recipe",
    ["distill", "train_teacher", "compress", "evaluate", "export", "tune", "benchmark_accuracy", "benchmark_compress"],
)
def test_every_config_variant_loads_and_validates(recipe, tmp_path):
    """Each variant of each config file turns into valid settings (a
    misspelt field or a bad value in a variant fails here, not in a run)."""
    import importlib

    from recipes.lib import benchmark_compress
    from recipes.lib import config as config_lib

    module = importlib.import_module(f"recipes.configs.{recipe}")
    own = ("export", "baselines", "model", "format", "quantize", "compute_dtype", "int8_io", "float_logits")
    own += ("max_accuracy_drop", "tune_methods", "max_trials", "trial_epochs", "temperatures", "alphas", "output")
    for variant in ["", *module.VARIANTS]:
        config = module.get_config(variant)
        if recipe == "benchmark_accuracy":
            settings = benchmark_accuracy.settings_of(config, str(tmp_path))
            assert all(r in benchmark_accuracy.ROWS for r in settings.rows)
        elif recipe == "benchmark_compress":
            config_lib.to_dataclass(benchmark_compress.Settings, config, workdir=str(tmp_path))
        else:
            config_lib.training_config(config, str(tmp_path), ignore=own)
