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

from tests.distributed_run import STEPS

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
        and "/initial/" not in k
        and "/state/" not in k
        and k.split("/")[-1] not in ("replicas", "teacher_trained")
    }


# How far the two runs' weights may drift apart, from the arithmetic each
# precision does. float32: the two replicas' gradients are summed in another
# order than the single device's, a few float32 roundings (2**-24) of values
# below 1, accumulated over STEPS = 3 SGD steps: 1e-5 is far above that and
# far below a real error (a gradient counted twice changes weights by ~1e-2).
# mixed_float16: activations and their gradients are rounded to float16 at
# every op, and a summation in another order (another replica split, other
# oneDNN kernels on another CPU) moves each gradient by up to about one
# float16 step of its magnitude (2**-10 relative). The update w - w0 is the
# sum of STEPS such gradients times the learning rate, so the runs may differ
# by STEPS * 2**-10 * max|w - w0| per weight tensor.
FLOAT16_STEP = 2.0**-10


def _tolerance(precision, update):
    if precision == "float32":
        return 1e-5
    return 1e-6 + STEPS * FLOAT16_STEP * float(np.abs(update).max())


@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_mirrored_two_cpus_matches_single_device(tmp_path, precision):
    out = tmp_path / "w.npz"
    _finish(_run(["--mode=mirrored", f"--precision={precision}", f"--out={out}"]))
    d = np.load(out)
    assert int(d["mirrored/replicas"]) == 2 and int(d["single/replicas"]) == 1
    single, mirrored = _weights(d, "single"), _weights(d, "mirrored")
    assert set(single) == set(mirrored) and any("adapter" in k for k in single)
    for k in single:
        update = single[k] - d[f"single/initial/{k}"]
        np.testing.assert_allclose(mirrored[k], single[k], atol=_tolerance(precision, update), rtol=0, err_msg=k)
        # Both start from the same seeded weights, and training moved them.
        np.testing.assert_array_equal(d[f"mirrored/initial/{k}"], d[f"single/initial/{k}"], err_msg=k)
    assert np.abs(single["s_logits/bias"]).max() > 1e-4  # it trained (biases start at 0)
    for k in ("loss", "student_loss", "soft_labels", "hint_s_feat"):
        # The logged losses: float32 sums (1e-4), or of float16 features (a float16 step per step).
        rtol = 1e-4 if precision == "float32" else STEPS * FLOAT16_STEP
        np.testing.assert_allclose(d[f"mirrored/metric/{k}"], d[f"single/metric/{k}"], rtol=rtol, err_msg=k)
    assert not d["mirrored/teacher_trained"]


def test_crd_memory_bank_under_mirrored_strategy_matches_single_device(tmp_path):
    """CRD's banks are updated from the all-gathered rows of both replicas
    and Z from the global batch, so two CPUs keep what one device keeps."""
    out = tmp_path / "crd.npz"
    _finish(_run(["--mode=mirrored", "--loss=crd", f"--out={out}"]))
    d = np.load(out)
    state = [k[len("single/state/") :] for k in d.files if k.startswith("single/state/")]
    assert any("student_bank" in k for k in state) and any("normalizers" in k for k in state)
    for k in state:
        # float32 sums in another order over 3 steps, as for the weights above.
        np.testing.assert_allclose(d[f"mirrored/state/{k}"], d[f"single/state/{k}"], atol=1e-5, rtol=1e-5, err_msg=k)
    for k in _weights(d, "single"):
        if "/state/" not in k:
            np.testing.assert_allclose(d[f"mirrored/{k}"], d[f"single/{k}"], atol=1e-5, rtol=0, err_msg=k)


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
    """`recipes/distill.py --config.strategy=multiworker`, launched as in the README."""
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
                    "--config.strategy=multiworker",
                    "--config.smoke=True",
                    f"--config.teacher={teacher}",
                    "--config.method=kd",
                    "--config.batch_size=32",
                    f"--workdir={tmp_path / 'work'}",
                    f"--config.export_dir={tmp_path / 'export'}",
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
