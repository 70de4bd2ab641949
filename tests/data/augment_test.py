"""tfkd.data.Augment and seeded_epochs(augment=...): pure functions of
(seed, epoch, example)."""

import numpy as np
import pytest
import tensorflow as tf

import tfkd
from tfkd.data.augment import example_seeds


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype("float32"), rng.integers(0, 10, n)


def _batches(ds, k):
    it = iter(ds)
    return [tf.nest.map_structure(lambda t: t.numpy(), next(it)) for _ in range(k)]


def test_same_seeds_same_images_other_seeds_other_images():
    x, y = _data()
    aug = tfkd.data.Augment(shift=2, flip=True, mixup=0.4)
    seeds = example_seeds(3, 0, tf.range(8))
    a = aug(x[:8], y[:8], seeds, (x, y))
    b = aug(x[:8], y[:8], seeds, (x, y))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = aug(x[:8], y[:8], example_seeds(4, 0, tf.range(8)), (x, y))
    assert not np.array_equal(a[0], c[0])


def test_an_example_does_not_depend_on_its_batch():
    x, y = _data()
    aug = tfkd.data.Augment(shift=2, flip=True, mixup=0.2)
    index = tf.constant([5, 17, 30])
    alone = aug(tf.gather(x, index[1:2]), tf.gather(y, index[1:2]), example_seeds(0, 2, index[1:2]), (x, y))
    batch = aug(tf.gather(x, index), tf.gather(y, index), example_seeds(0, 2, index), (x, y))
    np.testing.assert_array_equal(alone[0][0], batch[0][1])
    np.testing.assert_array_equal(alone[1][0], batch[1][1])


def test_shift_is_a_translation_and_flip_a_mirror():
    x = np.zeros((64, 8, 8, 1), "float32")
    x[:, 3, 3, 0] = 1.0
    y = np.zeros(64, "int64")
    out, _ = tfkd.data.Augment(shift=2)(x, y, example_seeds(0, 0, tf.range(64)))
    where = [np.argwhere(o[..., 0] == 1.0)[0] for o in out.numpy()]
    offsets = {(int(r) - 3, int(c) - 3) for r, c in where}
    assert all(abs(dr) <= 2 and abs(dc) <= 2 for dr, dc in offsets) and len(offsets) > 5
    np.testing.assert_array_equal(out.numpy().sum(axis=(1, 2, 3)), np.ones(64))
    flipped, _ = tfkd.data.Augment(flip=True)(x, y, example_seeds(0, 0, tf.range(64)))
    cols = {int(np.argwhere(o[..., 0] == 1.0)[0][1]) for o in flipped.numpy()}
    assert cols == {3, 4}  # mirrored column of 3 in width 8 is 4


def test_mixup_mixes_image_and_label_with_one_weight():
    x, y = _data()
    aug = tfkd.data.Augment(mixup=1.0, num_classes=10)
    images, labels = aug(x[:16], y[:16], example_seeds(0, 0, tf.range(16)), (x, y))
    images, labels = images.numpy(), labels.numpy()
    np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-6)
    checked = 0
    for i in range(16):
        lam = labels[i, y[i]]
        if lam > 0.999:
            continue  # partner of the same class (or weight ~1): nothing to tell apart
        residual = images[i] - lam * x[i]
        # The rest is (1 - lam) times one pool example, whose class carries
        # the rest of the label.
        errors = [np.abs(residual - (1 - lam) * x[j]).max() for j in range(len(x))]
        j = int(np.argmin(errors))
        assert errors[j] < 1e-5
        if y[j] != y[i]:
            np.testing.assert_allclose(labels[i, y[j]], 1 - lam, atol=1e-6)
        checked += 1
    assert checked >= 8


def test_seeded_epochs_augmented_is_reproducible_and_resumes():
    x, y = _data(50)
    aug = tfkd.data.Augment(shift=1, flip=True, mixup=0.2)
    ds, steps = tfkd.data.seeded_epochs((x, y), 16, seed=1, augment=aug)
    full = _batches(ds, 3 * steps)
    again = _batches(tfkd.data.seeded_epochs((x, y), 16, seed=1, augment=aug)[0], 3 * steps)
    resumed = _batches(tfkd.data.seeded_epochs((x, y), 16, seed=1, first_epoch=2, augment=aug)[0], steps)
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a[0], b[0])
    for a, b in zip(full[2 * steps :], resumed):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # A new epoch draws new augmentations of the same example.
    assert not np.array_equal(full[0][0], full[steps][0])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="shift"):
        tfkd.data.Augment(shift=-1)
    with pytest.raises(ValueError, match="mixup"):
        tfkd.data.Augment(mixup=float("nan"))
    with pytest.raises(ValueError, match="flip"):
        tfkd.data.Augment(flip=1)
    x, y = _data()
    with pytest.raises(ValueError, match="float images"):
        tfkd.data.seeded_epochs(((x * 255).astype("uint8"), y), 8, augment=tfkd.data.Augment(shift=1))


def test_draws_are_uniform_and_the_mixup_weight_is_beta():
    """The per-example draws are uniform on [0, 1) (Kolmogorov–Smirnov), and
    the mixup weight is the Beta(a, a) quantile of its draw (SciPy reference,
    float64)."""
    from scipy import stats

    from tfkd.data.augment import _beta_quantile, _uniform_draws

    draws = _uniform_draws(example_seeds(7, 3, tf.range(4000)), 8).numpy()
    assert draws.shape == (4000, 8) and draws.min() >= 0 and draws.max() < 1
    for k in range(8):
        assert stats.kstest(draws[:, k], "uniform").pvalue > 1e-3
    # Draws of one example are not correlated with each other.
    assert np.abs(np.corrcoef(draws.T) - np.eye(8)).max() < 0.06
    u = np.random.default_rng(0).random(500)
    for a in (0.2, 1.0, 2.5):
        got = _beta_quantile(tf.constant(u), a).numpy()
        np.testing.assert_allclose(got, stats.beta.ppf(u, a, a), atol=1e-6)


def _splitmix_reference(seeds, count):
    """SplitMix64 in NumPy uint64 (wrapping), as published by Steele et al."""
    mask = (1 << 64) - 1
    golden = 0x9E3779B97F4A7C15

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    out = np.zeros((len(seeds), count))
    for b, (s0, s1) in enumerate(seeds):
        s0, s1 = int(s0) & mask, int(s1) & mask
        state = mix((s0 * golden + mix((s1 + golden) & mask)) & mask)
        for k in range(count):
            out[b, k] = (mix((state + (k + 1) * golden) & mask) >> 11) * 2.0**-53
    return out


def test_draws_match_a_splitmix64_reference():
    from tfkd.data.augment import _uniform_draws

    rng = np.random.default_rng(11)
    seeds = np.concatenate([rng.integers(-(2**62), 2**62, (20, 2)), [[0, 0], [-1, 2**40 + 7]]]).astype("int64")
    np.testing.assert_array_equal(_uniform_draws(tf.constant(seeds), 8).numpy(), _splitmix_reference(seeds, 8))
