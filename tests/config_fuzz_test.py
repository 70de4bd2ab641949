"""Random but valid Distiller configurations (losses, weights, taps of the
reference models, precision of the weights) train two steps without error
and with finite weights."""

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tfkd
from tfkd import models

L = tfkd.losses
TEACHER_TAPS = list(models.TAPS["cnn_teacher"].values())
CONV = {"cnn_teacher": ["t_block1", "t_block2", "t_block3"], "cnn_small": ["s_block1", "s_block2"]}


@st.composite
def configs(draw):
    student = draw(st.sampled_from(["cnn_small", "mlp_small"]))
    s_taps = list(models.TAPS[student].values())
    losses = []
    if draw(st.booleans()):
        losses.append(L.SoftLabels(draw(st.sampled_from([0.5, 1.0, 4.0, 20.0])), weight=draw(st.floats(0.0, 2.0))))
    kinds = draw(st.lists(st.sampled_from(["fitnet", "at", "rkd", "sp", "pkt"]), max_size=3))
    for i, kind in enumerate(kinds):
        weight = draw(st.floats(0.01, 10.0))
        if kind == "at":
            if student != "cnn_small":
                continue
            t, s = draw(st.sampled_from(CONV["cnn_teacher"])), draw(st.sampled_from(CONV["cnn_small"]))
        elif kind == "fitnet":  # a hint's adapter maps features of one rank
            s = draw(st.sampled_from(s_taps))
            t = draw(st.sampled_from(CONV["cnn_teacher"])) if s in CONV.get(student, []) else "t_embed"
        else:
            t, s = draw(st.sampled_from(TEACHER_TAPS)), draw(st.sampled_from(s_taps))
        cls = {
            "fitnet": L.FeatureHint,
            "at": L.AttentionTransfer,
            "rkd": L.RelationalKD,
            "sp": L.SimilarityPreserving,
            "pkt": L.ProbabilisticKT,
        }[kind]
        losses.append(cls(t, s, weight=weight, name=f"{kind}_{i}"))
    alpha = draw(st.floats(0.0, 1.0))
    if not losses or all(float(l.weight()) == 0 for l in losses) and alpha == 0:
        alpha = 0.5
    balance = draw(st.sampled_from([None, "initial"]))
    batch = draw(st.integers(1, 8))
    return student, losses, alpha, balance, batch


@settings(max_examples=5, deadline=None)
@given(configs())
def test_random_valid_configs_train_two_steps(config):
    student_name, losses, alpha, balance, batch = config
    keras.utils.set_random_seed(0)
    teacher = models.get("cnn_teacher", width=8)
    student = models.get(student_name, width=4)
    d = tfkd.Distiller(teacher, student, losses=losses, student_loss_weight=alpha, balance=balance)
    d.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.random((2 * batch, 28, 28, 1), np.float32)
    y = rng.integers(0, 10, 2 * batch)
    history = d.fit(x, y, batch_size=batch, epochs=1, verbose=0).history
    assert history["nonfinite_steps"] == [0.0]
    assert np.isfinite(history["loss"]).all()
    assert all(np.isfinite(w.numpy()).all() for w in d.trainable_weights)
