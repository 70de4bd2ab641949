"""Independent float64 NumPy implementations of each loss's formula."""

import numpy as np


def flat(x):
    x = np.asarray(x, np.float64)
    return x.reshape(x.shape[0], -1)


def unit_rows(x):
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def huber(x):
    a = np.abs(x)
    return np.where(a < 1, 0.5 * x * x, a - 0.5)


def feature_hint(t, s_adapted):
    return np.mean((np.asarray(t, np.float64) - np.asarray(s_adapted, np.float64)) ** 2)


def attention_map(f):
    a = (np.asarray(f, np.float64) ** 2).mean(-1)
    return unit_rows(a.reshape(a.shape[0], -1))


def attention_transfer(t, s):
    return np.mean((attention_map(s) - attention_map(t)) ** 2)


def rkd(t, s, dw=25.0, aw=50.0):
    def dist(f):
        d = np.sqrt(((f[:, None, :] - f[None, :, :]) ** 2).sum(-1))
        b = len(f)
        return d / (d.sum() / (b * (b - 1)))

    def angles(f):
        b = len(f)
        out = np.zeros((b, b, b))
        for j in range(b):
            e = unit_rows(f - f[j])  # row i: unit(f_i - f_j); zero when i == j
            out[j] = e @ e.T
        return out

    t, s = flat(t), flat(s)
    return dw * huber(dist(s) - dist(t)).mean() + aw * huber(angles(s) - angles(t)).mean()


def similarity_preserving(t, s):
    t, s = flat(t), flat(s)
    gt, gs = unit_rows(t @ t.T), unit_rows(s @ s.T)
    return ((gt - gs) ** 2).sum() / len(t) ** 2


def pkt(t, s, eps=1e-7):
    def cond(f):
        f = unit_rows(f)
        m = (f @ f.T + 1) / 2
        return m / m.sum(1, keepdims=True)

    pt, ps = cond(flat(t)), cond(flat(s))
    return np.mean(pt * np.log((pt + eps) / (ps + eps)))
