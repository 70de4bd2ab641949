"""Runs killed with SIGKILL resume from their last checkpoint and end with
the weights of an uninterrupted run; exports are never left broken."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes.lib import common
from tfkd import models

pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("teacher") / "teacher.keras")
    keras.utils.set_random_seed(0)
    return common.save_model(models.get("cnn_teacher", width=8), path)


def _student_weights(workdir):
    run = next(d for d in os.listdir(workdir) if d.startswith("cnn_small"))
    return keras.saving.load_model(os.path.join(workdir, run, "student.keras"), compile=False).get_weights()


def _helper(fields, pause):
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "kill_run.py"), json.dumps(fields), str(pause)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(proc, timeout=240):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]


def test_sigkill_after_first_checkpoint_resumes_to_identical_weights(teacher_file, tmp_path):
    fields = dict(teacher=teacher_file, method="kd+fitnet", smoke=True, epochs=2, batch_size=64, deterministic=True)
    plain, killed = str(tmp_path / "plain"), str(tmp_path / "killed")
    _wait(_helper({**fields, "workdir": plain}, 0))

    proc = _helper({**fields, "workdir": killed}, 30)
    meta = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        found = [
            os.path.join(r, "training_metadata.json") for r, _, fs in os.walk(killed) if "training_metadata.json" in fs
        ]
        if found:
            meta = found[0]
            break
        time.sleep(0.05)
    assert meta, "no checkpoint appeared"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = os.path.dirname(os.path.dirname(meta))
    assert json.load(open(meta))["epoch"] == 1
    assert not os.path.exists(os.path.join(run_dir, "result.json"))  # really interrupted

    _wait(_helper({**fields, "workdir": killed}, 0))
    for a, b in zip(_student_weights(plain), _student_weights(killed)):
        np.testing.assert_array_equal(a, b)


def _serves(path):
    served = tf.saved_model.load(path).signatures["serving_default"]
    out = served(images=tf.zeros((2, 28, 28, 1)))["probabilities"].numpy()
    return np.allclose(out.sum(-1), 1, atol=1e-4)


def test_sigkill_at_random_points_leaves_a_resumable_workdir_and_a_whole_export(teacher_file, tmp_path):
    export = str(tmp_path / "export")
    script = os.path.join(ROOT, "recipes", "distill.py")
    args = [
        sys.executable,
        script,
        f"--config.teacher={teacher_file}",
        "--config.method=kd",
        "--config.smoke=True",
        "--config.epochs=2",
        "--config.batch_size=64",
        f"--config.export_dir={export}",
        "--config.overwrite=True",
    ]
    start = time.time()
    first = subprocess.run(
        args + [f"--workdir={tmp_path / 'first'}"], env=ENV, capture_output=True, text=True, timeout=240
    )
    assert first.returncode == 0, first.stderr[-3000:]
    duration = time.time() - start
    old = os.path.getmtime(os.path.join(export, "saved_model.pb"))
    rng = random.Random(20261129)
    points = sorted(rng.uniform(0.3, 1.0) * duration for _ in range(2))
    workdir = str(tmp_path / "second")
    for delay in points:
        proc = subprocess.Popen(
            args + [f"--workdir={workdir}"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The export folder holds a whole export (the old one or the new one).
        assert _serves(export), f"export broken after a kill at {delay:.1f} s"
    final = subprocess.run(args + [f"--workdir={workdir}"], env=ENV, capture_output=True, text=True, timeout=240)
    assert final.returncode == 0, (points, final.stderr[-3000:])
    assert _serves(export) and os.path.getmtime(os.path.join(export, "saved_model.pb")) > old
    assert not [e for e in os.listdir(tmp_path) if e.startswith(".export.old-")]
