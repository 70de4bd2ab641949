"""The top-k codec of the teacher caches: the k largest logits of each
example (values and class indices) and the log-mean-exp of the others, and
full logits again on replay.
"""

import numpy as np
import tensorflow as tf

from tfkd.taps import LOGITS

TOPK_VALUES, TOPK_INDICES = "__topk_values__", "__topk_indices__"
# Per example, the log-mean-exp of the logits that top-k compression drops:
# the value every dropped class gets back on replay.
TOPK_TAIL = "__topk_tail__"
TOPK_KEYS = (TOPK_VALUES, TOPK_INDICES, TOPK_TAIL)


def index_dtype(num_classes):
    """The smallest integer NumPy dtype that holds a class index."""
    return np.uint8 if num_classes <= 256 else np.int16 if num_classes <= 32767 else np.int32


def compress(outputs, top_k):
    """Keeps the `top_k` largest logits (values and class indices) and the
    log-mean-exp of the others (one number per example).
    """
    if not top_k:
        return outputs
    out = []
    for o in outputs:
        o = dict(o)
        if LOGITS in o:
            logits = o.pop(LOGITS)
            values, indices = tf.math.top_k(logits, k=top_k)
            kept = tf.reduce_sum(tf.one_hot(indices, tf.shape(logits)[-1], dtype=logits.dtype), axis=-2) > 0
            dropped = tf.where(kept, tf.constant(-np.inf, logits.dtype), logits)
            rest = tf.cast(tf.shape(logits)[-1] - top_k, logits.dtype)
            o[TOPK_TAIL] = tf.reduce_logsumexp(dropped, axis=-1) - tf.math.log(rest)
            o[TOPK_VALUES], o[TOPK_INDICES] = values, tf.cast(indices, tf.int32)
        out.append(o)
    return tuple(out)


def expand(outputs, num_classes):
    """Full logits again: stored classes keep their logit, every dropped
    class gets the log-mean-exp of the dropped logits.
    """
    out = []
    for o in outputs:
        o = dict(o)
        if TOPK_VALUES in o:
            values, indices, tail = o.pop(TOPK_VALUES), o.pop(TOPK_INDICES), o.pop(TOPK_TAIL)
            tail = tail[..., None]
            onehots = tf.one_hot(indices, num_classes, dtype=values.dtype)  # (B, k, C)
            stored = tf.reduce_sum(onehots, axis=1)
            full = tf.einsum("bk,bkc->bc", values, onehots)
            o[LOGITS] = tf.where(stored > 0, full, tail)
        out.append(o)
    return tuple(out)
