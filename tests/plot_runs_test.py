"""recipes/plot_runs.py: curves of finished runs, averaged over seeds."""

import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from recipes.lib import plot_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _history(folder, values, metric="val_accuracy"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "history.csv"), "w") as f:
        f.write(f"epoch,accuracy,{metric}\n")
        # Rows out of order: the curve follows the epoch column, not the file order.
        for epoch in reversed(range(len(values))):
            f.write(f"{epoch},0.5,{values[epoch]}\n")


def _config(runs, out, **kw):
    return ml_collections.ConfigDict(
        {"runs": runs, "metric": "val_accuracy", "out": out, "title": "", "overwrite": False, **kw}
    )


def test_curves_average_the_seeds_by_epoch_and_the_figure_and_table_are_written(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 0.9, (2, 4))
    b = rng.uniform(0.5, 0.9, 6)
    for seed in range(2):
        _history(tmp_path / "cut" / f"s{seed}" / "run", a[seed])
    _history(tmp_path / "scratch" / "s0" / "run", b)
    out = str(tmp_path / "figs" / "curves.png")
    path, table = plot_runs.run(
        _config(f"cut={tmp_path}/cut/s*/run;scratch={tmp_path}/scratch/s*/run", out), str(tmp_path)
    )
    found = plot_runs.curves(plot_runs.parse_runs(f"cut={tmp_path}/cut/s*/run"))
    np.testing.assert_allclose(found["cut"]["mean"], a.mean(0), rtol=1e-12)
    assert found["cut"]["runs"] == 2
    assert path == out and os.path.getsize(out) > 1000
    with open(out[:-4] + ".md") as f:
        written = f.read()
    assert written.strip() == table
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert f"{100 * a.mean(0)[3]:.2f}" in rows["cut"] and f"{100 * b[5]:.2f}" in rows["scratch"]
    assert rows["cut"].count("|") == rows["scratch"].count("|")  # the shorter curve is padded
    with pytest.raises(ValueError, match="exists; pass --config.overwrite=True"):
        plot_runs.run(_config(f"cut={tmp_path}/cut/s*/run", out), str(tmp_path))
    plot_runs.run(_config(f"cut={tmp_path}/cut/s*/run", out, overwrite=True), str(tmp_path))


@pytest.mark.parametrize(
    "spec, match",
    [
        ("", "needs --config.runs"),
        ("cut", "must be 'label=glob"),
        ("=x", "must be 'label=glob"),
        ("a=x;a=y", "given twice"),
        ("a={tmp}/nothing*", "matches no folder"),
        ("a={tmp}/empty", "has no history.csv"),
        ("a={tmp}/other", "no 'val_accuracy' column"),
    ],
)
def test_bad_runs_are_refused_before_drawing(tmp_path, spec, match):
    os.makedirs(tmp_path / "empty")
    _history(tmp_path / "other", [0.5], metric="accuracy_x")
    out = str(tmp_path / "c.png")
    with pytest.raises(ValueError, match=match):
        plot_runs.run(_config(spec.format(tmp=tmp_path), out), str(tmp_path))
    assert not os.path.exists(out)


def test_script_prints_the_table_and_refuses_a_non_png_in_one_line(tmp_path):
    _history(tmp_path / "r" / "s0", [0.5, 0.75])

    def script(*flags):
        command = [sys.executable, os.path.join(ROOT, "recipes", "plot_runs.py"), f"--config.runs=r={tmp_path}/r/s*"]
        env = {**os.environ, "PYTHONPATH": ROOT}
        return subprocess.run([*command, *flags], capture_output=True, text=True, env=env, timeout=120)

    ok = script(f"--workdir={tmp_path}/w")
    assert ok.returncode == 0, ok.stderr
    assert "| r | 1 | 50.00 | 75.00 |" in ok.stdout and os.path.exists(tmp_path / "w" / "curves.png")
    bad = script(f"--config.out={tmp_path}/c.jpg")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    lines = [line for line in bad.stderr.splitlines() if "must be a .png file" in line]
    assert lines and lines[0].startswith("plot_runs.py: error: ")
