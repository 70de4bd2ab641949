"""tf.distribute: MirroredStrategy on two logical CPUs and
MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1 give the
weights of the single-device run on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

HELPER = os.path.join(os.path.dirname(__file__), "distributed_run.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def _run(args, timeout=180):
    return subprocess.Popen(
        [sys.executable, HELPER, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _finish(proc, timeout=180):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"distributed helper timed out:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]


def _weights(npz, prefix):
    return {
        k[len(prefix) + 1 :]: npz[k]
        for k in npz.files
        if k.startswith(prefix + "/")
        and "/metric/" not in k
        and k.split("/")[-1] not in ("replicas", "teacher_trained")
    }


@pytest.mark.parametrize("precision, tolerance", [("float32", 1e-5), ("mixed_float16", 1e-5)])
def test_mirrored_two_cpus_matches_single_device(tmp_path, precision, tolerance):
    out = tmp_path / "w.npz"
    _finish(_run(["--mode=mirrored", f"--precision={precision}", f"--out={out}"]))
    d = np.load(out)
    assert int(d["mirrored/replicas"]) == 2 and int(d["single/replicas"]) == 1
    single, mirrored = _weights(d, "single"), _weights(d, "mirrored")
    assert set(single) == set(mirrored) and any("adapter" in k for k in single)
    for k in single:
        np.testing.assert_allclose(mirrored[k], single[k], atol=tolerance, rtol=0, err_msg=k)
    assert np.abs(single["s_logits/bias"]).max() > 1e-4  # it trained (biases start at 0)
    for k in ("loss", "student_loss", "soft_labels", "hint_s_feat"):
        np.testing.assert_allclose(d[f"mirrored/metric/{k}"], d[f"single/metric/{k}"], rtol=1e-4, err_msg=k)
    assert not d["mirrored/teacher_trained"]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_two_processes_match_single_process(tmp_path):
    ports = ",".join(map(str, _free_ports(2)))
    outs = [tmp_path / f"w{i}.npz" for i in range(2)]
    workers = [
        _run(["--mode=multiworker", f"--index={i}", f"--ports={ports}", "--steps=2", f"--out={outs[i]}"])
        for i in range(2)
    ]
    single_out = tmp_path / "single.npz"
    single = _run(["--mode=single", "--steps=2", f"--out={single_out}"])
    for p in workers + [single]:
        _finish(p)
    w0, w1 = (_weights(np.load(o), "multiworker") for o in outs)
    ref = _weights(np.load(single_out), "single")
    assert int(np.load(outs[0])["multiworker/replicas"]) == 2
    for k in ref:
        np.testing.assert_array_equal(w0[k], w1[k], err_msg=k)
        np.testing.assert_allclose(w0[k], ref[k], atol=1e-5, rtol=0, err_msg=k)


def test_distill_recipe_on_two_workers(tmp_path):
    """`recipes/distill.py --strategy=multiworker`, launched as in the README."""
    import keras

    from recipes.lib import common
    from tfkd import models

    teacher = common.save_model(models.get("cnn_teacher", width=8), str(tmp_path / "teacher.keras"))
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = []
    for i in range(2):
        env = {
            **ENV,
            "PYTHONPATH": root,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(root, "recipes", "distill.py"),
                    "--strategy=multiworker",
                    "--smoke",
                    f"--teacher={teacher}",
                    "--method=kd",
                    "--batch_size=32",
                    f"--workdir={tmp_path / 'work'}",
                    f"--export_dir={tmp_path / 'export'}",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for p in procs:
        _finish(p, timeout=240)
    chief = keras.saving.load_model(str(tmp_path / "work" / "cnn_small_kd_s0" / "student.keras"))
    other = keras.saving.load_model(str(tmp_path / "work" / "worker-1" / "cnn_small_kd_s0" / "student.keras"))
    for a, b in zip(chief.trainable_weights, other.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)  # both workers hold the same student
    # (BatchNormalization's moving statistics are each worker's own unless
    # the layer is synchronized=True; the chief's are saved and exported.)
    assert os.path.exists(tmp_path / "export" / "saved_model.pb")  # written by the chief only
