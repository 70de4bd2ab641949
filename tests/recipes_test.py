"""Each recipe end to end at smoke size, resume included."""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from recipes.configs import demo as demo_config
from recipes.lib import common, demo, distill, evaluate, train_teacher
from recipes.lib import config as config_lib
from recipes.lib.config import Config

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("teacher"))
    result = train_teacher.run(Config(workdir=workdir, smoke=True, batch_size=64))
    import keras

    assert keras.saving.load_model(result["path"], compile=False).count_params() == result["params"]
    return result["path"]


def test_distill_export_and_evaluate(teacher_path, tmp_path):
    config = Config(
        workdir=str(tmp_path),
        smoke=True,
        teacher=teacher_path,
        method="kd+fitnet",
        export_dir=str(tmp_path / "export"),
        batch_size=64,
    )
    result = distill.run(config)
    assert os.path.exists(os.path.join(result["export_path"], "saved_model.pb"))
    served = evaluate.evaluate_model(Config(workdir=str(tmp_path), smoke=True), result["export_path"])
    keras_file = evaluate.evaluate_model(Config(workdir=str(tmp_path), smoke=True), result["student_path"])
    assert served["test_accuracy"] == pytest.approx(keras_file["test_accuracy"])
    assert served["test_accuracy"] == pytest.approx(result["test_accuracy"])
    # Checkpoints and logs in the workdir; no teacher in the checkpoint.
    run_dir = os.path.dirname(result["student_path"])
    assert os.listdir(os.path.join(run_dir, "logs"))
    # A finished run is reused, not retrained.
    again = distill.run(dataclasses.replace(config, export_dir=""))
    assert again["test_accuracy"] == result["test_accuracy"]


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt("simulated kill after the first epoch")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_distill_resumes_from_workdir(teacher_path, tmp_path):
    config = Config(workdir=str(tmp_path), smoke=True, teacher=teacher_path, method="kd", epochs=2, batch_size=64)
    with pytest.raises(KeyboardInterrupt):
        distill.run(config, extra_callbacks=[_Interrupt()])
    backup = os.path.join(str(tmp_path), distill.run_name(config), "backup")
    assert os.listdir(backup)
    epochs = _Epochs()
    distill.run(config, extra_callbacks=[epochs])
    assert epochs.seen == [1]  # continued with the second epoch


def test_steps_per_execution_trains_the_same_steps(teacher_path, tmp_path):
    # Several steps per graph call run the same steps in the same order:
    # the same weights (to float32 rounding of a few Adam steps) and history.
    steps = common.train_size(Config(smoke=True))[1]
    spe = next(d for d in range(2, steps + 1) if steps % d == 0)
    out = {}

    class Calls(keras.callbacks.Callback):  # one on_train_batch_end per graph call
        calls = 0

        def on_train_batch_end(self, batch, logs=None):
            Calls.calls += 1

    for n in (1, spe):
        Calls.calls = 0
        config = Config(
            workdir=str(tmp_path / str(n)),
            smoke=True,
            teacher=teacher_path,
            method="kd",
            epochs=2,
            cache_teacher=True,
            views=1,
            augment=False,
            steps_per_execution=n,
        )
        result = distill.run(config, extra_callbacks=[Calls()])
        assert Calls.calls == 2 * steps // n  # the setting reached compile
        out[n] = (keras.saving.load_model(result["student_path"], compile=False).get_weights(), result["history"])
    for a, b in zip(out[1][0], out[spe][0]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert out[1][1]["val_accuracy"] == pytest.approx(out[spe][1]["val_accuracy"], abs=1e-6)


def test_hint_naming_missing_layer(teacher_path, tmp_path):
    with pytest.raises(ValueError, match="no layer named 't_blockk2'.*Closest layer names"):
        distill.run(
            Config(
                workdir=str(tmp_path), smoke=True, teacher=teacher_path, method="fitnet", hints=("t_blockk2:s_block2",)
            )
        )


def test_script_rejects_bad_flag_in_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", "distill.py"), "--config.dataset=nope", f"--workdir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if "--config.dataset='nope' is unknown" in l]
    assert lines and lines[0].startswith("distill.py: error: ")
    assert "Traceback" not in out.stderr and "--helpfull" not in out.stderr  # no page of flag help


def _export_recipe(*flags):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", "export.py"), "--config.smoke=True", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_export_recipe_rerun_says_done_and_a_clash_is_one_line(tmp_path):
    student = str(tmp_path / "student.keras")
    from recipes.lib import common
    from tests.conftest import tiny_student

    common.save_model(tiny_student(input_shape=(28, 28, 1)), student)
    flags = [f"--config.model={student}", f"--config.export_dir={tmp_path / 'export'}", f"--workdir={tmp_path / 'w'}"]
    first = _export_recipe(*flags)
    assert first.returncode == 0, first.stderr[-2000:]
    again = _export_recipe(*flags)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already holds this export (same student file and settings); nothing to do" in again.stdout
    clash = _export_recipe(*flags, "--config.compute_dtype=mixed_float16")  # other settings, same folder
    assert clash.returncode == 1
    errors = [l for l in clash.stderr.splitlines() if l.startswith("export.py: error: ")]
    assert len(errors) == 1 and "never overwrites" in errors[0] and "--helpfull" not in clash.stderr


def test_demo_smoke(tmp_path):
    lines = []
    export = str(tmp_path / "demo_int8.tflite")
    saved = str(tmp_path / "demo_saved_model")
    config = demo_config.get_config("smoke")
    config.update(export_dir=export, saved_model_dir=saved, compress_export=str(tmp_path / "pruned_int8.tflite"))
    rows = demo.run(config, str(tmp_path / "work"), print_fn=lines.append)
    assert [r["model"] for r in rows] == [
        "teacher (cnn_teacher)",
        "student, from scratch",
        "student, distilled (kd)",
        "student, distilled (seed 0), SavedModel",
        "student, distilled (seed 0), int8 LiteRT",
        "teacher cut to half its channels + kd (3 epochs)",
        "teacher cut to half its channels + kd (3 epochs), int8 LiteRT",
    ]
    assert len({r["params"] for r in rows[1:5]}) == 1
    assert rows[5]["params"] == rows[6]["params"] < rows[0]["params"] / 3  # a quarter of the teacher
    assert os.path.exists(tmp_path / "pruned_int8.tflite")
    for row in rows[1:3]:  # the mean and spread of the two seeds' runs
        accs = row["test_accuracies"]
        assert len(accs) == 2 and row["test_accuracy"] == pytest.approx(np.mean(accs))
        assert row["std"] == pytest.approx(np.std(accs, ddof=1))
    assert any("| model | parameters | size | test accuracy | agreement with teacher |" in line for line in lines)
    assert os.path.exists(export) and os.path.exists(export.replace(".tflite", ".json"))
    assert os.path.exists(os.path.join(saved, "saved_model.pb"))
    assert lines[-1].startswith("Distillation: ") and "2 paired seeds" in lines[-1]
    assert f"scores {100 * rows[4]['test_accuracy']:.2f}%. " in lines[-1]  # the MLP's int8 file


def test_tune_smoke_records_the_grid_and_refuses_a_bad_one(teacher_path, tmp_path):
    from recipes.lib import tune

    config = Config(workdir=str(tmp_path), smoke=True, teacher=teacher_path, student="mlp_small", batch_size=64)
    output = str(tmp_path / "tuned.json")
    results = tune.search(config, ["kd"], output=output, temperatures=[2.0, 4.0], alphas=[0.1], command="tune smoke")
    best = results["kd"]
    assert best["grid"] == {"temperature": [2.0, 4.0], "alpha": [0.1]}
    assert best["temperature"] in (2.0, 4.0) and best["alpha"] == 0.1 and best["trials"] == 2
    with open(output) as f:
        text = f.read()
    recorded = json.loads(text)["mlp_small"]["kd"]
    assert recorded["command"] == "tune smoke" and recorded["commit"] == common.commit()
    # The layout of the committed recipes/results/tuned.json, so a search's diff is only what it changed.
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    tuned = config_lib.tuned_config(config, {"mlp_small": results}, "kd")
    assert (tuned.temperature, tuned.alpha) == (best["temperature"], 0.1)
    with pytest.raises(ValueError, match="Temperatures must be > 0"):
        tune.search(config, ["kd"], temperatures=[0.0])


def test_tuned_config_reads_another_students_key_and_ties_dist_gamma_to_beta():
    tuned = {"cnn_flat_w8": {"dist": {"dist_temperature": 4.0, "dist_beta": 1.0, "val_accuracy": 0.9}}}
    config = Config(student="cnn_small", dist_gamma=2.0)
    assert config_lib.tuned_config(config, tuned, "dist") == config  # its own key has nothing tuned
    chosen = config_lib.tuned_config(config, tuned, "dist", key="cnn_flat_w8")
    assert (chosen.dist_temperature, chosen.dist_beta, chosen.dist_gamma) == (4.0, 1.0, 1.0)


def test_dkd_std_searches_dkd_on_standardized_logits_with_the_label_weight():
    """dkd_std and dkd_std_mixup search DKD with standardize=True (mixup for
    the second), over DKD's grid and the hard-label weight; plain dkd stays
    unstandardized."""
    from recipes.lib import tune

    for method, mixup in (("dkd_std", 0.0), ("dkd_std_mixup", 0.2)):
        base = tune._base(Config(), method)
        assert (base.method, base.standardize, base.mixup) == ("dkd", True, mixup), method
        assert tune._logit_grid(method) == {**tune.LOGIT_GRIDS["dkd"], "alpha": (0.1, 0.5)}
    assert "dkd_std_mixup" in tune.MIXUP_LOGIT and "dkd_std" in tune.GRID_METHODS
    plain = tune._base(Config(), "dkd")
    assert (plain.method, plain.standardize) == ("dkd", False)


def test_tune_searches_a_logit_method_on_the_ensembles_mixup_views(teacher_path, tmp_path):
    """kd_std_mixup searches standardized kd's grid with mixup on both
    teachers' cached views, records that setting, and keeps its own project."""
    from recipes.lib import tune

    second = train_teacher.run(
        Config(workdir=str(tmp_path / "second"), smoke=True, batch_size=64, teacher_model="mlp_teacher")
    )["path"]
    config = Config(
        workdir=str(tmp_path),
        smoke=True,
        teachers=(teacher_path, second),
        student="mlp_small",
        batch_size=64,
        augment=False,
        cache_teacher=True,
        views=2,
    )
    best = tune.search(config, ["kd_std_mixup"], output=str(tmp_path / "tuned.json"))["kd_std_mixup"]
    assert best["setting"] == {"teachers": 2, "mixup": 0.2, "views": 2} and best["trials"] == 2
    assert best["grid"] == {"temperature": [1.0, 2.0, 4.0], "alpha": [0.1, 0.5]}
    assert best["temperature"] in (1.0, 2.0, 4.0) and best["alpha"] in (0.1, 0.5)
    assert os.listdir(tmp_path / "tune") == ["mlp_small_kd_std_mixup_t2_v2"]
    tuned = config_lib.tuned_config(config, {"mlp_small": {"kd_std_mixup": best}}, "kd_std_mixup")
    assert (tuned.temperature, tuned.alpha, tuned.teachers, tuned.views) == (
        best["temperature"],
        best["alpha"],
        config.teachers,
        2,
    )
    with pytest.raises(ValueError, match="crd_mixup"):
        tune.search(config, ["crd_mixup"])


@pytest.mark.parametrize("method", ["kd", "dist"])
def test_compress_smoke_prunes_distils_and_exports(tmp_path, method):
    """Every row is named by the distillation method, the int8 file's too."""
    from recipes.lib import compress

    teacher = models_for_compress(tmp_path)
    lines = []
    config = Config(
        workdir=str(tmp_path / "w"), smoke=True, teacher=teacher, keep=0.5, round_to=2, augment=False, method=method
    )
    rows = compress.compress(config, print_fn=lines.append)
    assert [r["model"] for r in rows] == [
        "teacher",
        "pruned (BatchNorm re-estimated), before training",
        f"pruned + {method}",
        f"pruned + {method}, int8 LiteRT",
    ]
    assert rows[1]["params"] < 0.4 * rows[0]["params"] and rows[1]["macs"] < 0.4 * rows[0]["macs"]
    assert rows[3]["bytes"] > 0 and rows[3]["latency_ms"] > 0
    assert any(line.startswith("| model | parameters | MACs |") for line in lines[-1:])
    again = compress.compress(config, print_fn=lines.append)  # a rerun reuses the pruned student and the run
    assert [r["params"] for r in again] == [r["params"] for r in rows]


def test_compress_smoke_with_reconstruction_refits_the_cut_layers(tmp_path):
    from recipes.lib import compress

    teacher = models_for_compress(tmp_path)
    config = Config(workdir=str(tmp_path / "w"), smoke=True, teacher=teacher, keep=0.5, augment=False, reconstruct=True)
    rows = compress.compress(config, export="none", print_fn=lambda *_: None)
    assert [r["model"] for r in rows] == [
        "teacher",
        "pruned (least-squares reconstructed), before training",
        "pruned + kd",
    ]
    # Its own file: a reconstructed student never replaces a sliced one.
    assert os.path.exists(os.path.join(str(tmp_path / "w"), "pruned_keep0.5_drop0_activation_r1_recon.keras"))


def test_compress_smoke_with_sparsity_training_cuts_the_trained_copy(tmp_path):
    import keras

    from recipes.lib import compress

    teacher = models_for_compress(tmp_path)
    config = Config(
        workdir=str(tmp_path / "w"),
        smoke=True,
        teacher=teacher,
        keep=0.5,
        augment=False,
        importance="bn_scale",
        sparsity=1e-3,
        sparsity_epochs=1,
    )
    rows = compress.compress(config, export="none", print_fn=lambda *_: None)
    assert [r["model"] for r in rows] == ["teacher", "pruned (BatchNorm re-estimated), before training", "pruned + kd"]
    # The penalized copy trained in its own run; the cut student, seeded like it, carries no penalty.
    folder = str(tmp_path / "w")
    trained = keras.saving.load_model(
        os.path.join(folder, "sparsity_e1", "sparse_bn_scale_0.001_kd_s0", "student.keras")
    )
    assert trained.losses
    pruned = keras.saving.load_model(os.path.join(folder, "pruned_keep0.5_drop0_bn_scale_r1_sparse0.001x1_s0.keras"))
    assert not pruned.losses
    assert pruned.count_params() < keras.saving.load_model(teacher).count_params()


def test_sparsity_from_scratch_trains_a_seeded_random_copy(tmp_path):
    import keras
    import numpy as np

    from recipes.lib import compress

    teacher_path = models_for_compress(tmp_path)
    teacher = keras.saving.load_model(teacher_path)
    config = Config(
        workdir=str(tmp_path / "w"),
        smoke=True,
        teacher=teacher_path,
        augment=False,
        importance="bn_scale",
        sparsity=1e-3,
        sparsity_epochs=1,
        sparsity_from="scratch",
        seed=3,
    ).validate()
    trained = compress.sparse_teacher(config, teacher)
    assert trained.losses and trained.count_params() == teacher.count_params()
    folder = str(tmp_path / "w")
    assert os.path.exists(os.path.join(folder, "sparsity_scratch_e1", "sparse_bn_scale_0.001_scratch_s3_kd_s3"))
    init = keras.saving.load_model(os.path.join(folder, "sparse_bn_scale_0.001_scratch_s3.keras"))
    # Random weights, not the teacher's, drawn again the same way from the same seed.
    kernel = init.get_layer("branch").kernel.numpy()
    assert not np.allclose(kernel, teacher.get_layer("branch").kernel.numpy())
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(kernel, keras.models.clone_model(teacher).get_layer("branch").kernel.numpy())
    # Another size reuses the trained copy instead of training it again.
    again = compress.sparse_teacher(dataclasses.replace(config, keep=0.3, round_to=4), teacher)
    np.testing.assert_array_equal(again.get_layer("branch").kernel.numpy(), trained.get_layer("branch").kernel.numpy())


def test_random_init_keeps_the_architecture_draws_seeded_weights_and_never_overwrites(tmp_path):
    import keras
    import numpy as np

    from recipes.lib import compress
    from tests.conftest import tiny_teacher

    student = tiny_teacher()
    first = keras.saving.load_model(compress.random_init(student, str(tmp_path / "a.keras"), seed=5))
    again = keras.saving.load_model(compress.random_init(student, str(tmp_path / "b.keras"), seed=5))
    other = keras.saving.load_model(compress.random_init(student, str(tmp_path / "c.keras"), seed=6))
    assert [w.shape for w in first.weights] == [w.shape for w in student.weights]
    kernels = [m.layers[1].get_weights()[0] for m in (first, again, other, student)]
    np.testing.assert_array_equal(kernels[0], kernels[1])
    assert not np.allclose(kernels[0], kernels[2]) and not np.allclose(kernels[0], kernels[3])
    # An existing file is the baseline's start: kept, not drawn again.
    compress.random_init(student, str(tmp_path / "a.keras"), seed=6)
    np.testing.assert_array_equal(
        keras.saving.load_model(str(tmp_path / "a.keras")).layers[1].get_weights()[0], kernels[0]
    )


def test_compress_keeps_the_layers_left_whole_and_cuts_the_others():
    from recipes.lib import compress
    from tests.conftest import tiny_teacher

    teacher = tiny_teacher()
    keep = compress.fractions(Config(keep=0.3, keep_whole=("t_embed",)), teacher)
    assert keep == {"t_block1": 0.3, "t_block2": 0.3, "t_embed": 1.0}
    assert compress.fractions(Config(keep=0.3), teacher) == 0.3


def models_for_compress(tmp_path):
    """A small trained-shape teacher with BatchNorm and a residual block."""
    import keras

    from recipes.lib import common

    i = keras.Input((28, 28, 1))
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same")(i)))
    y = keras.layers.Conv2D(8, 3, padding="same", name="branch")(x)
    x = keras.layers.MaxPooling2D(4)(keras.layers.Add()([x, y]))
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(i, keras.layers.Dense(10, dtype="float32")(x), name="small_teacher")
    return common.save_model(model, str(tmp_path / "teacher.keras"))


def test_shipped_teacher_record_holds_the_command_that_trained_it():
    command = train_teacher.command(Config(teacher_model="resnet14", epochs=8, augment=False, workdir="w"))
    assert command == (
        "python recipes/train_teacher.py --config.teacher_model=resnet14 --config.epochs=8 --config.augment=False "
        "--workdir=w"
    )


def test_history_keeps_every_epoch_across_a_resume(tmp_path):
    from recipes.lib import common

    # Epochs 0-1, then a run killed after writing epoch 1 resumes at epoch 1.
    (tmp_path / "history.csv").write_text("epoch,accuracy,val_accuracy\n0,0.5,0.4\n1,0.6,0.5\n1,0.65,0.55\n2,0.7,0.6\n")
    assert common.history(str(tmp_path)) == {"accuracy": [0.5, 0.65, 0.7], "val_accuracy": [0.4, 0.55, 0.6]}
