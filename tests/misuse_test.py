"""The misuse table: each wrong use of the API or the recipes raises a
specific exception whose message names the problem and the fix, before any
training step."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkd
from recipes.configs import distill as distill_config
from recipes.lib import benchmark_accuracy, benchmark_speed, common, compress, distill
from recipes.lib import config as config_lib
from recipes.lib.config import Config
from tests.conftest import sparse_ce, tiny_data, tiny_dataset, tiny_student, tiny_teacher
from tfkd.callbacks import AtomicBackupAndRestore

L = tfkd.losses


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3, name="inner_conv")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.out = keras.layers.Dense(10)

    def call(self, x):
        return self.out(self.pool(self.conv(x)))


def S_no_bn():
    """A functional model without BatchNorm (nothing for bn_scale to penalize)."""
    i = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c")(i))
    return keras.Model(i, keras.layers.Dense(10, name="out")(x))


def _built_subclassed():
    model = Subclassed()
    model(np.zeros((1, 8, 8, 1), "float32"))
    return model


def _shared_layer_teacher():
    i = keras.Input((8, 8, 1))
    shared = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    x = shared(shared(keras.layers.Conv2D(4, 1)(i)))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(10)(x))


def _distiller(ctx, losses=None, **kwargs):
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=losses or [L.SoftLabels(2.0)], **kwargs)
    d.compile(keras.optimizers.SGD(0.1), loss=sparse_ce())
    ctx["distiller"] = d
    return d


def _fit(ctx, dataset, **kwargs):
    _distiller(ctx, **kwargs).fit(dataset, epochs=1, verbose=0)


def _cache_mismatch(ctx):
    other = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[L.FeatureHint("t_block1", "s_block1")])
    data = tfkd.cache_teacher_outputs(other, tiny_dataset(n=16))
    _fit(ctx, data, losses=[L.SoftLabels(2.0), L.FeatureHint("t_block2", "s_block1")])


def _augmented_cache(ctx):
    generator = tf.random.Generator.from_seed(1)
    ds = tiny_dataset(n=16).map(lambda x, y: (x + generator.normal(tf.shape(x)), y))
    tfkd.cache_teacher_outputs(_distiller(ctx), ds)


def _export_twice(ctx, tmp):
    student = tiny_student()
    tfkd.export_student(student, str(tmp / "s"))
    tfkd.export_student(student, str(tmp / "s"))


def _mismatched_checkpoint(ctx, tmp):
    x, y = tiny_data(16)
    first = _distiller(ctx)
    first.fit(x, y, epochs=1, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp / "backup"))])
    other = tfkd.Distiller(
        tiny_teacher(),
        tiny_student(name="other_student"),
        losses=[L.SoftLabels(), L.FeatureHint("t_block2", "s_block2")],
    )
    other.compile(keras.optimizers.SGD(0.1), loss=sparse_ce())
    ctx["distiller"] = other
    other.fit(x, y, epochs=2, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp / "backup"))])


def _corrupt_checkpoint(ctx, tmp):
    os.makedirs(tmp / "backup")
    (tmp / "backup" / "epoch-1.weights.h5").write_bytes(b"\x89HDF\r\n garbage")
    (tmp / "backup" / "training_metadata.json").write_text('{"epoch": 1, "weights": "epoch-1.weights.h5"}')
    x, y = tiny_data(16)
    _distiller(ctx).fit(x, y, epochs=2, verbose=0, callbacks=[AtomicBackupAndRestore(str(tmp / "backup"))])


def _config(tmp, **changes):
    if changes.get("workdir") == "FILE":
        (tmp / "f").write_text("")
        changes["workdir"] = str(tmp / "f" / "run")
    Config(**{"workdir": str(tmp / "w"), **changes}).validate()


def _steps_per_epoch():
    return common.train_size(Config(smoke=True))[1]


def _corrupt_teacher(ctx, tmp):
    (tmp / "teacher.keras").write_bytes(b"not a zip file")
    distill.run(Config(workdir=str(tmp / "w"), smoke=True, teacher=str(tmp / "teacher.keras")))


T, S = tiny_teacher, tiny_student


def _views(ctx, examples=None, **kwargs):
    x, y = tiny_data(16)
    kwargs.setdefault("augment", tfkd.data.Augment(shift=1))
    tfkd.cache_teacher_views(_distiller(ctx), (x, y) if examples is None else examples, 8, verbose=0, **kwargs)


def _random_augment(images, labels, seeds, pool=None):
    return images + tf.random.normal(tf.shape(images)), labels  # not a function of the seeds


def _big_feature_cache(ctx):
    import tfkd.teacher_cache.views as vc

    old, vc.MAX_FEATURE_CACHE_BYTES = vc.MAX_FEATURE_CACHE_BYTES, 1000
    try:
        d = _distiller(ctx, losses=[L.FeatureHint("t_block1", "s_block1")])
        x, y = tiny_data(16)
        tfkd.cache_teacher_views(d, (x, y), 8, augment=tfkd.data.Augment(shift=1), views=4, verbose=0)
    finally:
        vc.MAX_FEATURE_CACHE_BYTES = old


def _mixup_with_sparse_loss(ctx):
    x, y = tiny_data(16)
    ds, steps = tfkd.data.seeded_epochs((x, y), 8, augment=tfkd.data.Augment(mixup=0.2, num_classes=10))
    _distiller(ctx).fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)


class _ReplacesWeight(L.DistillationLoss):
    """A custom loss that stores its own number under the reserved `weight`."""

    def __init__(self):
        super().__init__()
        self.weight = 0.5

    def compute(self, teacher, student, step=None):
        return tf.reduce_mean(tf.square(teacher - student))


class _SkipsBaseInit(L.DistillationLoss):
    def __init__(self):  # never calls DistillationLoss.__init__
        self.scale = 2.0

    def compute(self, teacher, student, step=None):
        return tf.reduce_mean(tf.square(teacher - student))


def _pair_labels_with_sparse_loss(ctx):
    x, _ = tiny_data(16)
    pairs = np.stack([np.arange(16) % 10, np.arange(16) % 3], axis=1)
    _distiller(ctx).fit(x, pairs, epochs=1, verbose=0)


def _nested_student():
    inner_in = keras.Input((8, 8, 1))
    inner = keras.Model(inner_in, keras.layers.Conv2D(4, 3, padding="same", name="feat")(inner_in), name="backbone")
    i = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(inner(i))
    return keras.Model(i, keras.layers.Dense(10)(x), name="nested_student")


def _save_whole_distiller(ctx, tmp):
    keras.saving.save_model(_distiller(ctx), str(tmp / "distiller.keras"))


def _dkd_without_labels(ctx):
    d = tfkd.Distiller(T(), S(), losses=[L.DecoupledKD()], student_loss_weight=0)
    d.compile(keras.optimizers.SGD(0.1))
    ctx["distiller"] = d
    d.fit(tf.data.Dataset.from_tensor_slices(tiny_data(16)[0]).batch(8), epochs=1, verbose=0)


def _crd_without_indices(ctx):
    _fit(ctx, tiny_dataset(n=16), losses=[L.CRD(num_examples=16, negatives=8)])


def _litert(tmp, **kwargs):
    student = tiny_student()
    kwargs.setdefault("format", "litert")
    return tfkd.export_student(student, str(tmp / kwargs.pop("name", "s.tflite")), **kwargs)


CASES = {
    # Layer names.
    "unknown teacher layer": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.FeatureHint("t_blok2", "s_block1")]),
        ValueError,
        r"no layer named 't_blok2'.*Closest layer names: \['t_block2'",
    ),
    "unknown student layer": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.FeatureHint("t_block2", "s_blck1")]),
        ValueError,
        r"student.*no layer named 's_blck1'.*s_block1",
    ),
    "ambiguous layer": (
        lambda c, t: tfkd.Distiller(_shared_layer_teacher(), S(), losses=[L.FeatureHint("shared", "s_block1")]),
        ValueError,
        r"ambiguous.*Choices: \['shared:0",
    ),
    "taps of a subclassed teacher": (
        lambda c, t: tfkd.Distiller(_built_subclassed(), S(), losses=[L.FeatureHint("inner_conv", "s_block1")]),
        ValueError,
        "subclassed keras.Model.*Functional or Sequential",
    ),
    "unbuilt teacher": (
        lambda c, t: tfkd.Distiller(Subclassed(), S(), losses=[L.SoftLabels()]),
        ValueError,
        "teacher `.*` is not built.*Fix",
    ),
    # Models that do not fit together.
    "different input shapes": (
        lambda c, t: tfkd.Distiller(T(), S(input_shape=(9, 9, 1)), losses=[L.SoftLabels()]),
        ValueError,
        r"incompatible shapes: teacher \[\(8, 8, 1\)\], student \[\(9, 9, 1\)\]",
    ),
    "different numbers of classes": (
        lambda c, t: tfkd.Distiller(T(), S(classes=7), losses=[L.SoftLabels()]),
        ValueError,
        "teacher predicts 10 classes and the student 7",
    ),
    "hint shapes differ without adapter": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.FeatureHint("t_block2", "s_block1", adapter=None)]),
        ValueError,
        "adapter=None.*Fix: pass adapter='auto'",
    ),
    # Numbers.
    "temperature zero": (
        lambda c, t: L.SoftLabels(temperature=0.0),
        ValueError,
        "`temperature` must be a finite number > 0",
    ),
    "temperature negative": (
        lambda c, t: L.SoftLabels(temperature=-2.0),
        ValueError,
        "`temperature` must be a finite number > 0",
    ),
    "temperature NaN": (
        lambda c, t: L.SoftLabels(temperature=float("nan")),
        ValueError,
        "`temperature` must be a finite number",
    ),
    "temperature infinite": (
        lambda c, t: L.SoftLabels(temperature=float("inf")),
        ValueError,
        "`temperature` must be a finite number",
    ),
    "negative weight": (
        lambda c, t: L.AttentionTransfer("a", "b", weight=-1.0),
        ValueError,
        "`weight` must be a finite number >= 0",
    ),
    "NaN weight": (
        lambda c, t: L.FeatureHint("a", "b", weight=float("nan")),
        ValueError,
        "`weight` must be a finite number >= 0",
    ),
    "all weights zero": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.SoftLabels(weight=0.0)], student_loss_weight=0.0),
        ValueError,
        "All weights are zero",
    ),
    "negative student_loss_weight": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.SoftLabels()], student_loss_weight=-1.0),
        ValueError,
        "student_loss_weight",
    ),
    "teacher_weights of the wrong length": (
        lambda c, t: tfkd.Distiller([T(), T(name="t2")], S(), losses=[L.SoftLabels()], teacher_weights=[1.0]),
        ValueError,
        "teacher_weights",
    ),
    "nothing to optimise": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[], student_loss_weight=0.0),
        ValueError,
        "Nothing to optimise",
    ),
    "two losses with one name": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.SoftLabels(), L.SoftLabels()]),
        ValueError,
        "share a name",
    ),
    "a loss named like a Distiller metric": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.SoftLabels(name="student_loss")]),
        ValueError,
        "a name the Distiller logs itself",
    ),
    # Compile and data.
    "compile without a loss": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.SoftLabels()]).compile("adam"),
        ValueError,
        r"compile\(\) got no `loss`.*Fix",
    ),
    "dataset without labels": (
        lambda c, t: _fit(c, tf.data.Dataset.from_tensor_slices(tiny_data(16)[0]).batch(8)),
        ValueError,
        "yields no labels.*student_loss_weight=0",
    ),
    "labels out of range": (
        lambda c, t: _fit(c, tf.data.Dataset.from_tensor_slices((tiny_data(16)[0], np.arange(16) + 3)).batch(16)),
        ValueError,
        r"labels from 3 to 18.*predicts 10 classes",
    ),
    "wrong image shape": (
        lambda c, t: _fit(
            c, tf.data.Dataset.from_tensor_slices((np.zeros((16, 9, 9, 1), "float32"), np.zeros(16, "int64"))).batch(8)
        ),
        ValueError,
        r"shape \(None, 9, 9, 1\).*takes \(None, 8, 8, 1\)",
    ),
    "8-bit images": (
        lambda c, t: _fit(
            c, tf.data.Dataset.from_tensor_slices((np.zeros((16, 8, 8, 1), "uint8"), np.zeros(16, "int64"))).batch(8)
        ),
        ValueError,
        r"inputs are uint8.*tf.cast\(images, tf.float32\) / 255",
    ),
    "cache from another distiller": (lambda c, t: _cache_mismatch(c), ValueError, "do not fit this Distiller.*Fix"),
    "cache of an augmented dataset": (
        lambda c, t: _augmented_cache(c),
        ValueError,
        "different inputs on two passes.*stateless",
    ),
    # Teacher cache over augmented views (before any teacher pass).
    "views < 1": (lambda c, t: _views(c, views=0), ValueError, "`views` must be an integer >= 1, got 0"),
    "view-cache top_k of 0": (lambda c, t: _views(c, top_k=0), ValueError, "`top_k` must be a positive integer"),
    "augment that is not an Augment": (
        lambda c, t: _views(c, augment="flip"),
        ValueError,
        "must be a tfkd.data.Augment",
    ),
    "augment that is not deterministic": (
        lambda c, t: _views(c, augment=_random_augment),
        ValueError,
        "different results for the same seeds",
    ),
    "view-cache examples of unequal length": (
        lambda c, t: _views(c, examples=(tiny_data(16)[0], tiny_data(8)[1])),
        ValueError,
        "one common, non-zero length",
    ),
    "views without augmentation": (lambda c, t: _views(c, augment=None, views=3), ValueError, "identical copies"),
    "feature cache over the size limit": (lambda c, t: _big_feature_cache(c), ValueError, "GiB .*logits-only losses"),
    "mixup labels with a sparse loss": (
        lambda c, t: _mixup_with_sparse_loss(c),
        ValueError,
        "SparseCategoricalCrossentropy.*CategoricalCrossentropy",
    ),
    # LiteRT export (before any conversion).
    "int8 without representative data": (
        lambda c, t: _litert(t, quantize="int8"),
        ValueError,
        "needs `representative_data`",
    ),
    "int16x8 without representative data": (
        lambda c, t: _litert(t, quantize="int16x8"),
        ValueError,
        "quantize='int16x8' needs `representative_data`",
    ),
    "representative data of the wrong shape": (
        lambda c, t: _litert(t, quantize="int8", representative_data=np.zeros((60, 9, 9, 1), "float32")),
        ValueError,
        r"shape \(9, 9, 1\).*\(8, 8, 1\)",
    ),
    "8-bit representative data": (
        lambda c, t: _litert(t, quantize="int8", representative_data=np.zeros((60, 8, 8, 1), "uint8")),
        ValueError,
        "float images.*to_float",
    ),
    "too few representative examples": (
        lambda c, t: _litert(t, quantize="int8", representative_data=np.zeros((10, 8, 8, 1), "float32")),
        ValueError,
        "has 10 examples.*at least 50",
    ),
    "quantize with a SavedModel": (
        lambda c, t: _litert(t, format="saved_model", quantize="int8", name="sm"),
        ValueError,
        "needs format='litert'",
    ),
    "unknown export format": (lambda c, t: _litert(t, format="onnx"), ValueError, "`format` must be one of"),
    "unknown quantization": (lambda c, t: _litert(t, quantize="int4"), ValueError, "`quantize` must be one of"),
    "LiteRT path without .tflite": (lambda c, t: _litert(t, name="student.bin"), ValueError, "ending in '.tflite'"),
    "int8_io without int8": (lambda c, t: _litert(t, int8_io=True), ValueError, "int8_io=True needs quantize='int8'"),
    "float_logits without int8": (
        lambda c, t: _litert(t, quantize="dynamic", float_logits=True),
        ValueError,
        "float_logits=True .* needs quantize='int8'",
    ),
    "float_logits with int8_io": (
        lambda c, t: _litert(
            t, quantize="int8", representative_data=np.zeros((60, 8, 8, 1), "float32"), int8_io=True, float_logits=True
        ),
        ValueError,
        "cannot be int8.*int8_io=False",
    ),
    "float_logits with a SavedModel": (
        lambda c, t: _litert(t, format="saved_model", float_logits=True, name="sm"),
        ValueError,
        "float_logits=True needs format='litert'",
    ),
    # Export and checkpoints.
    "export into a non-empty folder": (_export_twice, FileExistsError, "never overwrites.*overwrite=True"),
    "DKD alpha negative": (lambda c, t: L.DecoupledKD(alpha=-1.0), ValueError, "`alpha` must be a finite number >= 0"),
    "DKD beta NaN": (lambda c, t: L.DecoupledKD(beta=float("nan")), ValueError, "`beta` must be a finite number"),
    "DKD temperature zero": (
        lambda c, t: L.DecoupledKD(temperature=0.0),
        ValueError,
        "`temperature` must be a finite number > 0",
    ),
    "DKD warm-up not whole": (lambda c, t: L.DecoupledKD(warmup_steps=2.5), ValueError, "`warmup_steps` must be"),
    "DKD mixed labels unknown": (
        lambda c, t: L.DecoupledKD(mixed_labels="both"),
        ValueError,
        r"`mixed_labels` must be one of \['dominant', 'weighted'\]",
    ),
    "DIST gamma negative": (lambda c, t: L.DIST(gamma=-0.5), ValueError, "`gamma` must be a finite number >= 0"),
    "DIST temperature negative": (
        lambda c, t: L.DIST(temperature=-1.0),
        ValueError,
        "`temperature` must be a finite number > 0",
    ),
    "standardize not a bool": (lambda c, t: L.SoftLabels(standardize="yes"), ValueError, "`standardize` must be"),
    "DKD without labels in the data": (
        lambda c, t: _dkd_without_labels(c),
        ValueError,
        r"Loss 'dkd' needs the true labels, but the training data yields none. Fix",
    ),
    "CRD without example indices": (
        lambda c, t: _crd_without_indices(c),
        ValueError,
        r"Loss 'crd' needs each example's index.*Fix: make the data with tfkd.data.seeded_epochs",
    ),
    "CRD without num_examples": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[L.CRD()]),
        ValueError,
        r"needs num_examples.*Fix: tfkd.losses.CRD\(num_examples=",
    ),
    "CRD momentum of 1": (lambda c, t: L.CRD(momentum=1.0), ValueError, r"`momentum` must be in \[0, 1\)"),
    "CRD negatives zero": (lambda c, t: L.CRD(negatives=0), ValueError, "`negatives` must be a whole number >= 1"),
    "prune a subclassed model": (
        lambda c, t: tfkd.prune_width(_built_subclassed(), keep=0.5, importance="magnitude"),
        ValueError,
        "subclassed keras.Model.*Functional or Sequential",
    ),
    "prune keep zero": (
        lambda c, t: tfkd.prune_width(T(), keep=0.0),
        ValueError,
        r"`keep` must be a fraction.*\(0, 1\]",
    ),
    "prune keep above one": (lambda c, t: tfkd.prune_width(T(), keep=1.5), ValueError, r"in \(0, 1\], got 1.5"),
    "prune keep NaN": (lambda c, t: tfkd.prune_width(T(), keep=float("nan")), ValueError, "got nan"),
    "prune keep naming unknown layers": (
        lambda c, t: tfkd.prune_width(T(), keep={"t_blok1": 0.5}, importance="magnitude"),
        ValueError,
        r"layers the model does not have: \['t_blok1'\]. Prunable layers: \['t_block1'",
    ),
    "prune keep naming an unprunable layer": (
        lambda c, t: tfkd.prune_width(T(), keep={"t_bn": 0.5}, importance="magnitude"),
        ValueError,
        r"whose channels cannot be pruned: \['t_bn'\]",
    ),
    "prune calibration of the wrong shape": (
        lambda c, t: tfkd.prune_width(T(), keep=0.5, calibration_data=np.zeros((4, 9, 9, 1), "float32")),
        ValueError,
        r"calibration_data has images of shape \(9, 9, 1\), but the model takes \(8, 8, 1\)",
    ),
    "prune by activation without calibration data": (
        lambda c, t: tfkd.prune_width(T(), keep=0.5),
        ValueError,
        "needs|none was given.*Fix: pass calibration_data",
    ),
    "prune with an unknown importance": (
        lambda c, t: tfkd.prune_width(T(), keep=0.5, importance="taylor"),
        ValueError,
        r"`importance` must be one of \['activation', 'bn_scale', 'magnitude'\]",
    ),
    "SavedModel export to a .tflite path": (
        lambda c, t: tfkd.export_student(tiny_student(), str(t / "s.tflite")),
        ValueError,
        r"ends in '.tflite'.*Fix: pass format='litert'",
    ),
    "whole Distiller through keras.saving.save_model": (
        _save_whole_distiller,
        ValueError,
        r"not saved whole \(through keras.saving.save_model\).*untrained teachers.*Fix: tfkd.export_student",
    ),
    "custom loss replacing the reserved weight": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[_ReplacesWeight()]),
        ValueError,
        r"sets self.weight = 0.5, but `weight` is reserved.*Fix: store your value under another",
    ),
    "custom loss skipping the base __init__": (
        lambda c, t: tfkd.Distiller(T(), S(), losses=[_SkipsBaseInit()]),
        ValueError,
        r"did not call DistillationLoss.__init__.*Fix: call super\(\).__init__",
    ),
    "label pairs with a sparse loss": (
        lambda c, t: _pair_labels_with_sparse_loss(c),
        ValueError,
        r"labels have shape \(16, 2\).*one class index per example.*Fix",
    ),
    "tap missing the nested model's prefix": (
        lambda c, t: tfkd.Distiller(T(), _nested_student(), losses=[L.FeatureHint("t_block1", "feat")]),
        ValueError,
        r"a nested model has: \['backbone/feat'\].*Fix: tap it by its path",
    ),
    "export of an unbuilt model": (
        lambda c, t: tfkd.export_student(keras.Sequential([keras.layers.Dense(2)]), str(t / "x")),
        ValueError,
        "not built.*Fix",
    ),
    "checkpoint of another student": (
        _mismatched_checkpoint,
        ValueError,
        r"checkpoint '.*epoch-1.weights.h5' does not fit.*Nothing was deleted",
    ),
    "corrupt checkpoint": (
        _corrupt_checkpoint,
        ValueError,
        r"checkpoint '.*epoch-1.weights.h5' does not fit.*Nothing was deleted",
    ),
    # Recipes.
    "unknown dataset flag": (
        lambda c, t: _config(t, dataset="fmnist"),
        ValueError,
        "--config.dataset='fmnist' is unknown; expected one of",
    ),
    "unknown student flag": (
        lambda c, t: _config(t, student="cnn_tiny"),
        ValueError,
        "--config.student='cnn_tiny' is unknown",
    ),
    "unknown method flag": (
        lambda c, t: _config(t, method="kd+foo"),
        ValueError,
        r"--config.method='kd\+foo' is unknown",
    ),
    "precision not in the list": (
        lambda c, t: _config(t, precision="float8"),
        ValueError,
        "--config.precision='float8' is not one of",
    ),
    "missing teacher file": (
        lambda c, t: _config(t, teacher="/nonexistent/teacher.keras"),
        ValueError,
        "does not exist. Fix: train one",
    ),
    "corrupt teacher file": (_corrupt_teacher, ValueError, "could not be loaded.*corrupt"),
    "workdir that is a file": (lambda c, t: _config(t, workdir="FILE"), ValueError, "is not writable: .* is a file"),
    "workdir that denies writing": (
        lambda c, t: _config(t, workdir="/proc/tfkd"),
        ValueError,
        "is not writable: .* denies writing",
    ),
    "hint flag without a colon": (
        lambda c, t: _config(t, hints=("t_block2",)),
        ValueError,
        "must be 'teacher_layer:student_layer'",
    ),
    "unknown benchmark pair": (
        lambda c, t: benchmark_speed.check_args(("huge",), 32, 2, 1),
        ValueError,
        r"Unknown pair\(s\) \['huge'\]",
    ),
    "unknown benchmark row": (
        lambda c, t: benchmark_accuracy.Settings(workdir=str(t), rows=("scratch", "nkd")).validate(),
        ValueError,
        r"Unknown row\(s\) \['nkd'\]",
    ),
    "benchmark mixup strength of 0": (
        lambda c, t: benchmark_accuracy.Settings(workdir=str(t), mixup=0.0).validate(),
        ValueError,
        r"--config.mixup must be > 0 \(the Beta\(a, a\) of the '\+mixup' rows\), got 0.0",
    ),
    "config entry that is no setting": (
        lambda c, t: config_lib.training_config({"temprature": 3.0}, str(t)),
        ValueError,
        r"Unknown setting\(s\) \['temprature'\]",
    ),
    "config variant the file does not have": (
        lambda c, t: distill_config.get_config("mlp_kb"),
        ValueError,
        r"Unknown config variant 'mlp_kb'; this config file has \[.*'mlp_kd'",
    ),
    "benchmark seeds that are not numbers": (
        lambda c, t: benchmark_accuracy.settings_of({"seeds": "0,one"}, str(t)),
        ValueError,
        "--config.seeds must be numbers separated by commas",
    ),
    "steps per execution of 0": (
        lambda c, t: _config(t, steps_per_execution=0),
        ValueError,
        r"--config.steps_per_execution must be >= 1 \(training steps per graph call\), got 0",
    ),
    "steps per execution that do not divide an epoch": (
        lambda c, t: distill.run(
            Config(workdir=str(t / "w"), smoke=True, method="scratch", steps_per_execution=_steps_per_epoch() + 1)
        ),
        ValueError,
        r"--config.steps_per_execution=\d+ does not divide the \d+ steps of an epoch \(Keras would run \d+\)\. "
        r"Fix: use one of \[1, ",
    ),
    "layers left whole with a searched allocation": (
        lambda c, t: _config(t, keep_whole=("t_embed",), keep_by="search"),
        ValueError,
        "--config.keep_whole and --config.keep_by=search both choose per-layer fractions",
    ),
    "a layer left whole that cannot be pruned": (
        lambda c, t: compress.fractions(Config(keep_whole=("t_logits",)), tiny_teacher()),
        ValueError,
        r"--config.keep_whole names \['t_logits'\], which are not prunable layers of the teacher; prunable: \[",
    ),
    "sparsify with a strength of zero": (
        lambda c, t: tfkd.pruning.sparsify(T(), strength=0.0),
        ValueError,
        r"`strength` must be a finite number > 0, got 0.0. Fix: pass e.g. 1e-4",
    ),
    "sparsify with a NaN strength": (
        lambda c, t: tfkd.pruning.sparsify(T(), strength=float("nan")),
        ValueError,
        "`strength` must be a finite number > 0, got nan",
    ),
    "sparsify by activation": (
        lambda c, t: tfkd.pruning.sparsify(T(), importance="activation"),
        ValueError,
        r"sparsify penalizes 'bn_scale' or 'magnitude', got importance='activation'. Fix: importance='bn_scale'",
    ),
    "sparsify excluding an unknown layer": (
        lambda c, t: tfkd.pruning.sparsify(T(), exclude=["t_blok1"]),
        ValueError,
        r"`exclude` names layers the model does not have: \['t_blok1'\]",
    ),
    "sparsify excluding a layer that cannot be pruned": (
        lambda c, t: tfkd.pruning.sparsify(T(), exclude=["t_bn"]),
        ValueError,
        r"`exclude` names layers whose channels cannot be pruned: \['t_bn'\]",
    ),
    "sparsify a model without BatchNorm by its scales": (
        lambda c, t: tfkd.pruning.sparsify(S_no_bn(), importance="bn_scale"),
        ValueError,
        r"found nothing to penalize by 'bn_scale'.*Fix: importance='magnitude'",
    ),
    "sparsify a subclassed model": (
        lambda c, t: tfkd.pruning.sparsify(_built_subclassed()),
        ValueError,
        "subclassed",
    ),
    "sparsity training with activation importance": (
        lambda c, t: _config(t, sparsity=1e-4),
        ValueError,
        r"--config.sparsity penalizes .* but importance is 'activation'. Fix: --config.importance=bn_scale",
    ),
    "sparsity training from an unknown start": (
        lambda c, t: _config(t, sparsity=1e-4, importance="bn_scale", sparsity_from="random"),
        ValueError,
        r"--config.sparsity_from must be 'teacher' .* or 'scratch' .* got 'random'",
    ),
    "sparsity training for zero epochs": (
        lambda c, t: _config(t, sparsity=1e-4, importance="bn_scale", sparsity_epochs=0),
        ValueError,
        r"--config.sparsity_epochs >= 1",
    ),
    "unknown channel allocation": (
        lambda c, t: _config(t, keep_by="random"),
        ValueError,
        "--config.keep_by must be 'uniform' or 'search'",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_fails_early_and_clearly(name, tmp_path):
    action, error, message = CASES[name]
    ctx = {}
    with pytest.raises(error, match=message):
        action(ctx, tmp_path)
    distiller = ctx.get("distiller")
    # (A refused checkpoint may have set the step counter while loading.)
    if distiller is not None and distiller.optimizer is not None and "checkpoint" not in name:
        assert int(distiller.optimizer.iterations.numpy()) == 0, "a training step ran before the error"


def test_subclassed_teacher_without_taps_is_fine():
    teacher = _built_subclassed()
    d = tfkd.Distiller(teacher, tiny_student(), losses=[L.SoftLabels()])
    d.compile("adam", loss=sparse_ce())
    d.fit(np.zeros((4, 8, 8, 1), "float32"), np.zeros(4), verbose=0)


def test_compile_without_loss_is_fine_when_hard_labels_are_off():
    d = tfkd.Distiller(tiny_teacher(), tiny_student(), losses=[L.SoftLabels()], student_loss_weight=0)
    d.compile("adam")
    d.fit(tf.data.Dataset.from_tensor_slices(tiny_data(16)[0]).batch(8), epochs=1, verbose=0)
