"""Structured width pruning: exact surgery (keep=1 and dead channels change
nothing), tied groups, importance against NumPy, keras.applications graphs,
and the pruned model as an ordinary Keras model."""

import keras
import numpy as np
import pytest

import tfkd
from tests.conftest import sparse_ce

# Pruned and original models run the same float32 ops on the same values;
# removing a channel that is exactly zero removes only exact zeros from sums,
# so outputs agree to float32 rounding of other summation blockings.
EXACT = 1e-5


def _bn_stats(model, seed=0):
    """Non-trivial BatchNorm statistics, so slicing errors show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(size=beta.shape),
                    rng.normal(size=mean.shape),
                    rng.uniform(0.5, 2.0, var.shape),
                ]  # fmt: skip
            )
    return model


def residual_cnn():
    """Stem + a residual block (tied by Add), a depthwise conv, a
    Concatenate, a Flatten -> Dense head."""
    i = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(i)
    x = keras.layers.ReLU(name="stem_relu")(keras.layers.BatchNormalization(name="stem_bn")(x))
    y = keras.layers.Conv2D(6, 3, padding="same", name="b1")(x)
    y = keras.layers.ReLU()(keras.layers.BatchNormalization(name="b1_bn")(y))
    y = keras.layers.BatchNormalization(name="b2_bn")(keras.layers.Conv2D(8, 3, padding="same", name="b2")(y))
    x = keras.layers.ReLU(name="res_relu")(keras.layers.Add(name="res")([x, y]))
    d = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    c = keras.layers.Concatenate(name="cat")([d, keras.layers.Conv2D(5, 1, name="side")(x)])
    f = keras.layers.Flatten(name="flat")(keras.layers.MaxPooling2D(name="pool")(c))
    h = keras.layers.Dense(16, activation="relu", name="fc")(f)
    return _bn_stats(keras.Model(i, keras.layers.Dense(4, name="out")(h), name="residual_cnn"))


def inverted_residual():
    """A MobileNetV2 block: expand, depthwise, project, Add with the input."""
    i = keras.Input((10, 10, 8))
    x = keras.layers.Conv2D(8, 1, name="entry")(i)
    h = keras.layers.ReLU(6.0)(
        keras.layers.BatchNormalization(name="e_bn")(keras.layers.Conv2D(24, 1, name="expand")(x))
    )
    h = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise")(h)
    h = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(name="d_bn")(h))
    h = keras.layers.BatchNormalization(name="p_bn")(keras.layers.Conv2D(8, 1, use_bias=False, name="project")(h))
    x = keras.layers.Add(name="skip")([x, h])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return _bn_stats(keras.Model(i, keras.layers.Dense(3, name="head")(x), name="inverted_residual"))


def squeeze_excite():
    """An EfficientNet-style block: expand, squeeze-excite (pool, Reshape to
    (1, 1, C), reduce, expand, Multiply), project."""
    i = keras.Input((6, 6, 4))
    x = keras.layers.ReLU()(keras.layers.Conv2D(8, 1, name="expand")(i))
    s = keras.layers.Reshape((1, 1, 8), name="se_reshape")(keras.layers.GlobalAveragePooling2D()(x))
    s = keras.layers.Conv2D(3, 1, activation="relu", name="se_reduce")(s)
    s = keras.layers.Conv2D(8, 1, activation="sigmoid", name="se_expand")(s)
    x = keras.layers.Multiply(name="se_excite")([x, s])
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1, name="project")(x))
    return keras.Model(i, keras.layers.Dense(2, name="head")(x), name="squeeze_excite")


def nested():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(
        inner_in, keras.layers.Conv2D(6, 3, padding="same", name="inner_conv")(inner_in), name="backbone"
    )
    i = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 1, name="after")(inner(i))
    x = keras.layers.Dense(10, name="mid")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(i, keras.layers.Dense(2, name="top")(x), name="nested")


def _images(model, n=64, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *model.inputs[0].shape[1:])).astype("float32")


@pytest.mark.parametrize("build", [residual_cnn, inverted_residual, squeeze_excite, nested])
@pytest.mark.parametrize("importance", ["activation", "bn_scale", "magnitude"])
def test_keep_one_is_the_same_function(build, importance):
    model = build()
    x = _images(model)
    pruned = tfkd.prune_width(model, keep=1.0, calibration_data=x, importance=importance)
    assert pruned is not model and pruned.count_params() == model.count_params()
    np.testing.assert_allclose(pruned(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)


def _kill(model, group_layers, channels):
    """Makes `channels` exactly zero in every tensor that carries them."""
    for name in group_layers:
        layer = model.get_layer(name)
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            weights[0][channels] = 0.0  # gamma
            weights[1][channels] = 0.0  # beta
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            weights[0][..., channels, :] = 0.0
            if len(weights) > 1:
                weights[1][channels] = 0.0
        else:
            weights[0][..., channels] = 0.0
            if len(weights) > 1:
                weights[1][channels] = 0.0
        layer.set_weights(weights)


def test_pruning_dead_channels_leaves_the_function_unchanged():
    model = residual_cnn()
    # Two dead channels of the residual stream (stem and b2, tied by the Add;
    # the depthwise conv passes them on), two of b1, one of the side conv
    # (its part of the Concatenate, read row by row through Flatten) and 4 of fc.
    _kill(model, ["stem", "stem_bn", "b2", "b2_bn", "dw"], [1, 6])
    _kill(model, ["b1", "b1_bn"], [0, 3])
    _kill(model, ["side"], [2])
    _kill(model, ["fc"], [0, 5, 9, 12])
    x = _images(model)
    keep = {"stem": 0.75, "b1": 4 / 6, "side": 0.8, "fc": 0.75}
    pruned = tfkd.prune_width(model, keep=keep, calibration_data=x)
    widths = {l.name: l.get_weights()[0].shape[-1] for l in pruned.layers if l.get_weights()}
    assert (widths["stem"], widths["b2"], widths["b1"], widths["side"], widths["fc"]) == (6, 6, 4, 4, 12)
    assert widths["dw"] == 1 and pruned.get_layer("dw").get_weights()[0].shape[-2] == 6
    assert pruned.get_layer("out").get_weights()[0].shape == (12, 4)  # the output width never changes
    np.testing.assert_allclose(pruned(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)


def test_squeeze_excite_channels_prune_through_the_reshape():
    model = squeeze_excite()
    # Channels 1 and 5 of the expand/se_expand group (tied by the Multiply)
    # are dead: expand makes zeros there, and se_expand's sigmoid ~0.
    for name, bias in (("expand", 0.0), ("se_expand", -100.0)):
        kernel, b = model.get_layer(name).get_weights()
        kernel[..., [1, 5]], b[[1, 5]] = 0.0, bias
        model.get_layer(name).set_weights([kernel, b])
    x = _images(model)
    pruned = tfkd.prune_width(model, keep={"expand": 0.75}, calibration_data=x)
    assert pruned.get_layer("se_expand").filters == 6 and pruned.get_layer("se_reshape").target_shape == (1, 1, 6)
    assert pruned.get_layer("se_reduce").filters == 3  # not named: kept whole
    np.testing.assert_allclose(pruned(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)


def test_the_original_is_untouched_and_the_pruned_model_is_ordinary(tmp_path):
    model = residual_cnn()
    before = [w.copy() for w in model.get_weights()]
    x = _images(model)
    pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x, round_to=2)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert pruned.count_params() < 0.4 * model.count_params()
    assert all(
        w.shape[-1] % 2 == 0 for l in pruned.layers if l.name in ("stem", "b1", "fc") for w in l.get_weights()[:1]
    )
    path = str(tmp_path / "pruned.keras")
    pruned.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again(x).numpy(), pruned(x).numpy(), atol=EXACT)
    y = np.random.default_rng(0).integers(0, 4, len(x))
    d = tfkd.Distiller(model, pruned, losses=[tfkd.losses.SoftLabels(2.0)], student_loss_weight=0.5)
    d.compile("adam", loss=sparse_ce())
    h = d.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(h["loss"][0])


def test_importance_order_matches_numpy():
    """Dense(8, relu) -> Dense(3): activation importance is mean |h| per
    unit (the Dense's output carries it), magnitude the L1 norm of each
    column; the kept units are the top ones by each."""
    i = keras.Input((5,))
    h = keras.layers.Dense(8, activation="relu", name="hidden")(i)
    model = keras.Model(i, keras.layers.Dense(3, name="out")(h))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 5)).astype("float32")
    w, b = (v.astype(np.float64) for v in model.get_layer("hidden").get_weights())
    act = np.abs(np.maximum(x.astype(np.float64) @ w + b, 0)).mean(0)
    mag = np.abs(w).sum(0)
    for importance, score in (("activation", act), ("magnitude", mag)):
        pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x, importance=importance)
        kept_kernel = pruned.get_layer("hidden").get_weights()[0]
        want = np.sort(np.argsort(-score)[:4])
        np.testing.assert_array_equal(kept_kernel, model.get_layer("hidden").get_weights()[0][:, want])


def test_bn_scale_ranks_by_gamma():
    i = keras.Input((6, 6, 2))
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv2D(6, 3, name="conv")(i))
    model = keras.Model(i, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    gamma = np.array([0.1, -2.0, 0.3, 1.5, -0.05, 0.9], "float32")
    bn = model.get_layer("bn")
    bn.set_weights([gamma, *bn.get_weights()[1:]])
    pruned = tfkd.prune_width(model, keep=0.5, importance="bn_scale")
    np.testing.assert_array_equal(pruned.get_layer("bn").get_weights()[0], gamma[[1, 3, 5]])


def test_report_counts_channels_params_and_macs():
    model = residual_cnn()
    pruned = tfkd.prune_width(model, keep=0.5, importance="magnitude")
    report = tfkd.prune_report(model, pruned)
    rows = {r.name: r for r in report.rows}
    assert (rows["stem"].channels_before, rows["stem"].channels_after) == (8, 4)
    # stem: 12x12 positions, 3x3 kernel, 3 -> 8 channels.
    assert rows["stem"].macs_before == 144 * 9 * 3 * 8 and rows["stem"].macs_after == 144 * 9 * 3 * 4
    assert report.params_before == model.count_params() and report.params_after == pruned.count_params()
    assert "| stem | Conv2D | 8 → 4 |" in str(report)


def test_prunable_groups_tie_residual_producers_and_a_dict_from_them_leaves_one_layer_whole():
    model = residual_cnn()
    groups = tfkd.pruning.prunable_groups(model)
    assert ["b2", "stem"] in groups  # summed by the Add: one group
    names = [name for group in groups for name in group]
    assert "out" not in names  # the model's output width never changes
    assert len(names) == len(set(names)) and all(model.get_layer(n) for n in names)
    keep = {name: 0.5 for name in names}
    keep["fc"] = 1.0
    pruned = tfkd.prune_width(model, keep, importance="magnitude")
    rows = {r.name: r for r in tfkd.prune_report(model, pruned).rows}
    assert (rows["fc"].channels_before, rows["fc"].channels_after) == (16, 16)
    assert (rows["stem"].channels_after, rows["b1"].channels_after) == (4, 3)


def backbone_under_a_head():
    """A stem, then a functional backbone whose residual Add ties the stem's
    channels to its own last conv, then a nested Sequential whose conv has
    the backbone conv's name, then a Dense head."""
    inner_in = keras.Input((8, 8, 4))
    h = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inner_in)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization(name="bn1")(h))
    h = keras.layers.Conv2D(4, 1, name="c2")(h)
    backbone = keras.Model(inner_in, keras.layers.Add(name="add")([inner_in, h]), name="backbone")
    neck = keras.Sequential(
        [keras.Input((8, 8, 4)), keras.layers.Conv2D(5, 1, name="c1"), keras.layers.ReLU()], name="neck"
    )
    i = keras.Input((8, 8, 3))
    x = neck(backbone(keras.layers.Conv2D(4, 1, name="stem")(i)))
    x = keras.layers.Dense(7, activation="relu", name="fc")(keras.layers.GlobalAveragePooling2D()(x))
    return _bn_stats(keras.Model(i, keras.layers.Dense(3, name="head")(x), name="with_backbone"))


class _Doubler(keras.Model):
    """A subclassed model: no graph to prune through."""

    def call(self, x):
        return 2.0 * x


def test_a_nested_model_is_pruned_through_and_keeps_its_nesting(tmp_path):
    model = backbone_under_a_head()
    assert tfkd.pruning.prunable_groups(model) == [["backbone/c2", "stem"], ["backbone/c1"], ["neck/c1"], ["fc"]]
    # Dead channels on both sides of the nesting: the stem/c2 group tied by
    # the backbone's Add (its BatchNorm-free path), and two of neck/c1's.
    backbone, neck = model.get_layer("backbone"), model.get_layer("neck")
    for layer, channels in ((model.get_layer("stem"), [0, 3]), (backbone.get_layer("c2"), [0, 3])):
        kernel, bias = layer.get_weights()
        kernel[..., channels], bias[channels] = 0.0, 0.0
        layer.set_weights([kernel, bias])
    kernel, bias = neck.get_layer("c1").get_weights()
    kernel[..., [1, 4]], bias[[1, 4]] = 0.0, 0.0
    neck.get_layer("c1").set_weights([kernel, bias])
    x = _images(model)
    pruned = tfkd.prune_width(model, keep={"stem": 0.5, "neck/c1": 0.6}, calibration_data=x)
    np.testing.assert_allclose(pruned(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)
    assert isinstance(pruned.get_layer("backbone"), keras.Model) and isinstance(pruned.get_layer("neck"), keras.Model)
    assert pruned.get_layer("backbone").get_layer("c2").filters == 2
    assert pruned.get_layer("backbone").get_layer("c1").filters == 6  # not named: kept whole
    assert pruned.get_layer("neck").get_layer("c1").filters == 3
    assert backbone.get_layer("c2").filters == 4  # the original is untouched
    pruned.save(tmp_path / "pruned.keras")  # an ordinary model: saved and loaded with its nesting
    loaded = keras.saving.load_model(tmp_path / "pruned.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), pruned(x).numpy())
    assert loaded.get_layer("neck").get_layer("c1").filters == 3
    rows = {r.name: r for r in tfkd.prune_report(model, pruned).rows}
    assert (rows["backbone/c2"].channels_after, rows["neck/c1"].channels_after, rows["stem"].channels_after) == (
        2,
        3,
        2,
    )
    # Taps through the nesting still work, and the pruned model trains as a student.
    distiller = tfkd.Distiller(
        model, pruned, losses=[tfkd.losses.FeatureHint(teacher_layer="neck/c1", student_layer="neck/c1")]
    )
    distiller.compile("adam", loss=sparse_ce())
    distiller.fit(x, np.zeros(len(x)), batch_size=32, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="'sub/layer' for a layer inside a nested model"):
        tfkd.prune_width(model, keep={"backbone/c9": 0.5}, importance="magnitude")


def test_a_subclassed_nested_model_is_left_whole_and_reported():
    i = keras.Input((8, 8, 3))
    x = _Doubler(name="doubler")(keras.layers.Conv2D(4, 1, name="stem")(i))
    x = keras.layers.Dense(6, name="mid")(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(5, 1, name="c")(x)))
    model = keras.Model(i, keras.layers.Dense(2, name="top")(x))
    x = _images(model)
    pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x)
    assert pruned.get_layer("stem").filters == 4 and pruned.get_layer("c").filters == 2
    report = tfkd.prune_report(model, pruned)
    assert "doubler" in report.left_whole and "without a functional graph" in report.left_whole["doubler"]


@pytest.mark.slow
def test_keras_applications_mobilenetv2_prunes_trains_and_exports_int8(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=4)
    x = _images(model, n=64)
    y = np.random.default_rng(0).integers(0, 4, len(x))
    np.testing.assert_allclose(
        tfkd.prune_width(model, keep=1.0, calibration_data=x)(x).numpy(), model(x).numpy(), atol=EXACT
    )
    pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x, round_to=8)
    assert pruned.count_params() < 0.5 * model.count_params()
    # Eager steps: the same gradients through every pruned layer, without
    # tracing a 150-layer train function (20 s here); graph-mode training of
    # pruned models is covered on the smaller graphs above.
    pruned.compile("adam", loss=sparse_ce(), run_eagerly=True)
    pruned.fit(x, y, batch_size=32, epochs=1, verbose=0)
    path = tfkd.export_student(
        pruned, str(tmp_path / "m.tflite"), format="litert", quantize="int8", representative_data=x, check_data=(x, y),
        max_accuracy_drop=None,
    )  # fmt: skip
    assert path.endswith(".tflite")


@pytest.mark.slow
def test_keras_applications_resnet50v2_prunes_and_trains():
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50V2(input_shape=(32, 32, 3), weights=None, classes=4)
    x = _images(model, n=16)
    pruned = tfkd.prune_width(model, keep=0.25, calibration_data=x)
    assert pruned.count_params() < 0.2 * model.count_params()
    pruned.compile("adam", loss=sparse_ce(), run_eagerly=True)  # eager, as for MobileNetV2
    pruned.fit(x, np.zeros(len(x)), batch_size=16, epochs=1, verbose=0)
    assert pruned.output_shape == model.output_shape


@pytest.mark.slow
def test_a_keras_applications_backbone_under_a_new_head_prunes_through():
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    i = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(i))
    model = keras.Model(i, keras.layers.Dense(4, name="head")(keras.layers.Dense(16, name="fc")(x)))
    x = _images(model, n=32)
    np.testing.assert_allclose(
        tfkd.prune_width(model, keep=1.0, calibration_data=x)(x).numpy(), model(x).numpy(), atol=EXACT
    )
    pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x, round_to=8)
    assert pruned.count_params() < 0.5 * model.count_params()
    inner = pruned.get_layer(base.name)
    assert isinstance(inner, keras.Model) and inner.get_layer("Conv1").filters < base.get_layer("Conv1").filters
    pruned.compile("adam", loss=sparse_ce(), run_eagerly=True)  # eager, as for MobileNetV2 above
    pruned.fit(x, np.zeros(len(x)), batch_size=16, epochs=1, verbose=0)


@pytest.mark.slow
def test_keras_applications_efficientnetb0_prunes_through_its_squeeze_excite_blocks():
    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=4)
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        tfkd.prune_width(model, keep=1.0, calibration_data=x)(x).numpy(), model(x).numpy(), atol=EXACT
    )
    pruned = tfkd.prune_width(model, keep=0.5, calibration_data=x)
    assert pruned.count_params() < 0.3 * model.count_params()
    # Only the input's preprocessing is left whole (the input is never pruned).
    assert set(tfkd.prune_report(model, pruned).left_whole) == {"rescaling", "normalization"}


def three_blocks():
    """A stem and three identity residual blocks, then a head."""
    i = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="stem")(i)
    for k in range(3):
        y = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name=f"c{k}a")(x)
        y = keras.layers.BatchNormalization(name=f"bn{k}")(keras.layers.Conv2D(6, 3, padding="same", name=f"c{k}b")(y))
        x = keras.layers.Add(name=f"block{k}")([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return _bn_stats(keras.Model(i, keras.layers.Dense(5, name="head")(x)))


def _zero_branch(bn):
    """The block ending in this BatchNorm then adds exact zeros."""
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma * 0, beta * 0, mean, var])


def test_depth_pruning_drops_the_block_that_changes_the_outputs_least():
    model = three_blocks()
    assert list(tfkd.pruning.residual_blocks(model)) == ["block0", "block1", "block2"]
    _zero_branch(model.get_layer("bn1"))  # block1's branch outputs exact zeros: dropping it is exact
    x = _images(model)
    shallower = tfkd.prune_depth(model, drop=1, calibration_data=x)
    names = {l.name for l in shallower.layers}
    assert "c1a" not in names and "c1b" not in names and {"c0a", "c2b", "head"} <= names
    np.testing.assert_allclose(shallower(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)
    # The report counts the dropped block's layers as removed, in the totals too.
    report = tfkd.prune_report(model, shallower)
    removed = {r.name: r for r in report.rows if r.removed}
    assert set(removed) >= {"c1a", "c1b"} and removed["c1a"].macs_after == 0 and removed["c1a"].macs_before > 0
    assert report.macs_before == sum(r.macs_before for r in report.rows) > report.macs_after
    assert report.macs_before - report.macs_after == sum(r.macs_before for r in removed.values())
    assert "| c1a | Conv2D |" in str(report) and "→ removed |" in str(report)
    by_name = tfkd.prune_depth(model, drop=["block0", "block2"])
    assert {"c0a", "c2a"}.isdisjoint(l.name for l in by_name.layers)
    assert by_name.count_params() < model.count_params() and by_name.output_shape == model.output_shape
    # Width and depth pruning compose.
    both = tfkd.prune_width(shallower, keep=0.5, calibration_data=x)
    assert both.count_params() < 0.5 * shallower.count_params()


def test_depth_pruning_drops_a_block_inside_a_nested_model_and_keeps_the_nesting():
    backbone = three_blocks()
    backbone = keras.Model(backbone.inputs, backbone.get_layer("block2").output, name="backbone")
    i = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(i))
    model = _bn_stats(keras.Model(i, keras.layers.Dense(5, name="head")(x)))
    assert list(tfkd.pruning.residual_blocks(model)) == ["backbone/block0", "backbone/block1", "backbone/block2"]
    _zero_branch(backbone.get_layer("bn1"))
    x = _images(model)
    shallower = tfkd.prune_depth(model, drop=1, calibration_data=x)
    inner = shallower.get_layer("backbone")
    assert isinstance(inner, keras.Model) and {"c1a", "c1b", "block1"}.isdisjoint(l.name for l in inner.layers)
    np.testing.assert_allclose(shallower(x).numpy(), model(x).numpy(), atol=EXACT, rtol=0)
    removed = {r.name for r in tfkd.prune_report(model, shallower).rows if r.removed}
    assert removed == {"backbone/c1a", "backbone/c1b", "backbone/bn1"}


def test_depth_pruning_refuses_bad_requests():
    model = three_blocks()
    with pytest.raises(ValueError, match="has 3 droppable residual blocks"):
        tfkd.prune_depth(model, drop=4, calibration_data=_images(model))
    with pytest.raises(ValueError, match=r"Not droppable residual blocks: \['stem'\]"):
        tfkd.prune_depth(model, drop=["stem"])
    with pytest.raises(ValueError, match="none was given.*Fix: pass calibration_data"):
        tfkd.prune_depth(model, drop=1)
    with pytest.raises(ValueError, match="`drop` must be a whole number >= 1"):
        tfkd.prune_depth(model, drop=0)


def test_batchnorm_statistics_are_re_estimated_on_the_calibration_images():
    i = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(3, 1, name="conv")(i)
    model = keras.Model(i, keras.layers.BatchNormalization(momentum=0.99, name="bn")(x))
    x = _images(model, n=512)
    tfkd.pruning.recalibrate_batchnorm(model, x, batch_size=128)
    w, b = (v.astype(np.float64) for v in model.get_layer("conv").get_weights())
    feats = (x.astype(np.float64) @ w[0, 0] + b).reshape(4, -1, 3)  # the 4 batches' conv outputs
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), feats.mean(1).mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), feats.var(1).mean(0), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.99  # put back


def _two_dense(seed=0):
    keras.utils.set_random_seed(seed)
    i = keras.Input((8,))
    x = keras.layers.Dense(16, activation="relu", name="a")(i)
    x = keras.layers.Dense(16, activation="relu", name="b")(x)
    return keras.Model(i, keras.layers.Dense(4, name="out")(x))


def test_sensitivity_is_full_accuracy_for_a_layer_whose_pruned_channels_are_dead():
    """Half of `a`'s channels are dead, so cutting `a` to half changes
    nothing (accuracy 1 against the model's own predictions); every channel
    of `b` is live, so cutting it changes predictions."""
    model = _two_dense()
    _kill(model, ["a"], list(range(8)))
    x = np.random.default_rng(2).normal(size=(512, 8)).astype("float32")
    labels = np.argmax(model.predict(x, verbose=0), axis=-1)
    scores = tfkd.pruning.layer_sensitivity(model, (x, labels), 0.5, calibration_data=x)
    assert set(scores) == {"a", "b"}
    assert scores["a"] == 1.0 and scores["b"] < 1.0
    onehot = np.eye(4)[labels]
    assert tfkd.pruning.layer_sensitivity(model, (x, onehot), 0.5, calibration_data=x) == scores


def test_search_keep_cuts_the_layer_that_costs_nothing_and_meets_the_budget():
    """Three quarters of `a` are dead and `b` is all live: the search takes
    the free cuts of `a` first, so `b` keeps more than the uniform half
    while the model stays within the uniform model's parameter count."""
    model = _two_dense()
    _kill(model, ["a"], list(range(4, 16)))
    x = np.random.default_rng(2).normal(size=(512, 8)).astype("float32")
    labels = np.argmax(model.predict(x, verbose=0), axis=-1)
    keep = tfkd.pruning.search_keep(model, (x, labels), 0.5, calibration_data=x, step=0.125)
    assert keep == {"a": 0.25, "b": 0.875}
    budget = tfkd.prune_width(model, 0.5, importance="magnitude").count_params()
    pruned = tfkd.prune_width(model, keep, calibration_data=x)
    assert pruned.count_params() <= budget


def test_sensitivity_refuses_bad_requests():
    model = _two_dense()
    x = np.zeros((16, 8), "float32")
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        tfkd.pruning.layer_sensitivity(model, x, 0.5, calibration_data=x)
    with pytest.raises(ValueError, match="labels of shape"):
        tfkd.pruning.layer_sensitivity(model, (x, np.zeros(3)), 0.5, calibration_data=x)
    with pytest.raises(ValueError, match="calibration_data"):
        tfkd.pruning.layer_sensitivity(model, (x, np.zeros(16)), 0.5)
    with pytest.raises(ValueError, match="calibration_data"):
        tfkd.pruning.search_keep(model, (x, np.zeros(16)), 0.5)
    with pytest.raises(ValueError, match="`step`"):
        tfkd.pruning.search_keep(model, (x, np.zeros(16)), 0.5, calibration_data=x, step=0)
    with pytest.raises(ValueError, match="`importance` must be one of"):
        tfkd.pruning.search_keep(model, (x, np.zeros(16)), 0.5, calibration_data=x, importance="l2")
    with pytest.raises(ValueError, match="a smaller `step`"):
        tfkd.pruning.search_keep(model, (x, np.zeros(16)), 0.02, calibration_data=x, step=0.5)
