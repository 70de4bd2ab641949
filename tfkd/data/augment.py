"""Stateless image augmentation: a pure function of (images, per-example seeds).

Every random choice (shift, flip, mixup partner and weight) is drawn with
a counter-based generator (SplitMix64) keyed by one seed per example, so an
augmented example can be regenerated bit for bit from its seed: a resumed run
sees the batches an uninterrupted one would, and a teacher cache can store
outputs for an augmented view and replay them later
(`tfkd.cache_teacher_views`). The whole batch is transformed with batched ops
(no per-example loop), so augmentation costs little next to a training step
even on a CPU.
"""

import tensorflow as tf

from tfkd.validation import finite_number

# The independent uniform draws of one example, by position.
_ROW, _COL, _FLIP, _PARTNER, _WEIGHT, _PARTNER_ROW, _PARTNER_COL, _PARTNER_FLIP = range(8)
_DRAWS = 8
# Bumped whenever the same seed would give a different image, so that a teacher
# cache written by another version is not trusted (it is in the fingerprint).
ALGORITHM = 2
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment (2^64 / golden ratio)


def _mix64(z):
    """SplitMix64's finaliser (Steele et al. 2014; Stafford's "Mix13"
    constants) on uint64 tensors, wrapping modulo 2^64.
    """
    shift = lambda v, n: tf.bitwise.right_shift(v, tf.constant(n, tf.uint64))  # noqa: E731
    z = tf.bitwise.bitwise_xor(z, shift(z, 30)) * tf.constant(0xBF58476D1CE4E5B9, tf.uint64)
    z = tf.bitwise.bitwise_xor(z, shift(z, 27)) * tf.constant(0x94D049BB133111EB, tf.uint64)
    return tf.bitwise.bitwise_xor(z, shift(z, 31))


def _uniform_draws(seeds, count):
    """`count` uniform draws in [0, 1) per example, float64 `(B, count)`.

    Each example's int64 seed pair keys a SplitMix64 stream (integer ops on
    the whole batch at once, exact on any device); draw `k` is the stream's
    `k`-th output, with 53 random bits. TensorFlow's stateless ops take one
    seed per call, and vectorising them over per-example seeds falls back to
    a per-example loop, which made augmentation cost as much as a training
    step on a CPU; this keeps each draw a function of its example's seed alone.
    """
    words = tf.bitcast(tf.cast(seeds, tf.int64), tf.uint64)
    golden = tf.constant(_GOLDEN, tf.uint64)
    state = _mix64(words[:, 0] * golden + _mix64(words[:, 1] + golden))
    steps = tf.range(1, count + 1, dtype=tf.int64)
    z = _mix64(state[:, None] + tf.bitcast(steps, tf.uint64)[None, :] * golden)
    bits = tf.bitwise.right_shift(z, tf.constant(11, tf.uint64))
    return tf.cast(bits, tf.float64) * (2.0**-53)


def _beta_quantile(u, concentration, iterations=32):
    """Beta(a, a) samples from uniforms `u` by inverting the regularised
    incomplete beta function (`tf.math.betainc`) with bisection: exact to
    2^-32 (below float32's resolution), vectorised, and a pure function of
    `u`. Returns float32.
    """
    a = tf.constant(concentration, tf.float64)
    lo, hi = tf.zeros_like(u), tf.ones_like(u)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = tf.math.betainc(a, a, mid) < u
        lo, hi = tf.where(below, mid, lo), tf.where(below, hi, mid)
    return tf.cast((lo + hi) / 2, tf.float32)


class Augment:
    """Random shift, horizontal flip and mixup, reproducible from seeds.

    `augment(images, labels, seeds, pool)` maps a batch to its augmented
    version. Each example `i` uses only `seeds[i]` (an int64 pair), never its
    neighbours in the batch, so the result does not depend on how examples
    are batched:

    - **shift**: zero-pad by `shift` pixels on each side, then crop a random
      window of the original size (a translation by up to `shift` pixels).
    - **flip**: mirror left-right with probability 1/2 (not for digits or
      text, whose meaning changes).
    - **mixup** (Zhang et al. 2018): draw a partner example from `pool` and a
      weight `λ ~ Beta(mixup, mixup)` from the same seed; the partner is
      shifted and flipped with its own draws; the image is
      `λ·x + (1-λ)·x_partner` and the label the mixed one-hot vector. With
      mixup, labels come out as float one-hot vectors, so the hard-label loss
      must be categorical (not sparse).

    Args:
        shift: maximum translation in pixels, an integer >= 0. Defaults to 0.
        flip: random horizontal flips. Defaults to False.
        mixup: Beta concentration of the mixup weight, >= 0 (0: no mixup;
            0.2 is typical). Defaults to 0.0.
        num_classes: classes of the one-hot labels with mixup. Defaults to
            the largest label in the pool plus one.

    Raises:
        ValueError: for a negative or non-integer shift, a non-bool flip, or
            a negative or non-finite mixup.

    Example:

    ```python
    aug = tfkd.data.Augment(shift=2, flip=True, mixup=0.2)
    ds, steps = tfkd.data.seeded_epochs((x, y), 128, seed=0, augment=aug)
    ```
    """

    def __init__(self, shift=0, flip=False, mixup=0.0, num_classes=None):
        if isinstance(shift, bool) or not isinstance(shift, int) or shift < 0:
            raise ValueError(f"Augment: `shift` must be an integer >= 0 (pixels), got {shift!r}.")
        if not isinstance(flip, bool):
            raise ValueError(f"Augment: `flip` must be True or False, got {flip!r}.")
        finite_number(mixup, "mixup")  # the Beta concentration; 0 turns mixup off
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
        ):
            raise ValueError(f"Augment: `num_classes` must be an integer >= 2 or None, got {num_classes!r}.")
        self.shift = shift
        self.flip = flip
        self.mixup = float(mixup)
        self.num_classes = num_classes

    @property
    def mixes_labels(self):
        """True when labels come out as mixed one-hot vectors."""
        return self.mixup > 0

    @property
    def is_identity(self):
        """True when the augmentation changes nothing."""
        return not (self.shift or self.flip or self.mixup)

    def __call__(self, images, labels, seeds, pool=None):
        """Augments a batch.

        Args:
            images: float tensor `(B, H, W, C)`.
            labels: integer class labels `(B,)`.
            seeds: int64 tensor `(B, 2)`, one stateless seed per example.
            pool: `(images, labels)` of the whole split, where mixup draws
                its partners from. Required with mixup.

        Returns:
            `(images, labels)`: float images of the same shape; labels as
            given, or float32 one-hot `(B, num_classes)` with mixup.

        Raises:
            ValueError: with mixup and no `pool`.
        """
        images = tf.convert_to_tensor(images)
        seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)
        if self.is_identity:
            return images, labels
        draws = _uniform_draws(seeds, _DRAWS)
        out = self._shift_flip(images, draws[:, _ROW], draws[:, _COL], draws[:, _FLIP])
        if not self.mixup:
            return out, labels
        if pool is None:
            raise ValueError("Augment with mixup needs `pool=(images, labels)` to draw partners from.")
        pool_x, pool_y = (tf.convert_to_tensor(p) for p in pool)
        n = tf.shape(pool_y, out_type=tf.int64)[0]
        classes = self.num_classes or tf.cast(tf.reduce_max(pool_y), tf.int32) + 1
        partner = tf.minimum(tf.cast(draws[:, _PARTNER] * tf.cast(n, tf.float64), tf.int64), n - 1)
        weight = _beta_quantile(draws[:, _WEIGHT], self.mixup)
        other = self._shift_flip(
            tf.cast(tf.gather(pool_x, partner), images.dtype),
            draws[:, _PARTNER_ROW],
            draws[:, _PARTNER_COL],
            draws[:, _PARTNER_FLIP],
        )
        w_img = tf.cast(tf.reshape(weight, [-1, 1, 1, 1]), images.dtype)
        mixed = w_img * out + (1 - w_img) * other
        onehot = lambda y: tf.one_hot(tf.cast(y, tf.int32), classes, dtype=tf.float32)
        w = weight[:, None]
        return mixed, w * onehot(labels) + (1 - w) * onehot(tf.gather(pool_y, partner))

    def _shift_flip(self, images, row, col, flip):
        """Translates each image by its own offsets (pad with zeros, crop a
        window at a random corner) and mirrors it when its flip draw is < 1/2;
        all in batched gathers, no per-example loop.
        """
        if self.shift:
            s = self.shift
            height, width = tf.shape(images)[1], tf.shape(images)[2]
            padded = tf.pad(images, [[0, 0], [s, s], [s, s], [0, 0]])
            top = tf.cast(tf.floor(row * (2 * s + 1)), tf.int32)
            left = tf.cast(tf.floor(col * (2 * s + 1)), tf.int32)
            rows = top[:, None] + tf.range(height)[None, :]
            cols = left[:, None] + tf.range(width)[None, :]
            images = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        if self.flip:
            mirror = tf.reshape(flip < 0.5, [-1, 1, 1, 1])
            images = tf.where(mirror, tf.reverse(images, axis=[2]), images)
        return images

    def get_config(self):
        """The augmentation's settings, as `Augment(**config)` takes them."""
        return {"shift": self.shift, "flip": self.flip, "mixup": self.mixup, "num_classes": self.num_classes}

    @classmethod
    def from_config(cls, config):
        """Rebuilds an `Augment` from `get_config()`."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Augment({args})"

    def __eq__(self, other):
        return isinstance(other, Augment) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(tuple(sorted(self.get_config().items())))


def example_seeds(seed, stream, indices):
    """Per-example stateless seeds `(B, 2)` from (seed, stream, example index).

    `stream` is the epoch for online augmentation, or a view number (offset
    so views never collide with epochs) for cached views.
    """
    indices = tf.cast(indices, tf.int64)
    first = tf.fill(tf.shape(indices), tf.cast(seed, tf.int64))
    # 2^32 examples per stream: disjoint keys for any split that fits memory.
    second = tf.cast(stream, tf.int64) * (2**32) + indices
    return tf.stack([first, second], axis=1)


def check_deterministic(augment, images, labels, pool):
    """Raises a ValueError unless `augment` gives the same batch twice."""
    seeds = example_seeds(0, 0, tf.range(tf.shape(images)[0]))
    a = augment(images, labels, seeds, pool)
    b = augment(images, labels, seeds, pool)
    same = all(bool(tf.reduce_all(tf.equal(u, v))) for u, v in zip(tf.nest.flatten(a), tf.nest.flatten(b)))
    if not same:
        raise ValueError(
            "The augmentation gave different results for the same seeds, so "
            "a run could not be resumed exactly and cached teacher outputs "
            "would not match their images. Fix: use tfkd.data.Augment, or "
            "draw every random number with tf.random.stateless_* from the "
            "per-example seeds it is given."
        )


def resolve(augment):
    """`None`, a `tfkd.data.Augment` or a callable `(images, labels, seeds,
    pool) -> (images, labels)`; anything else is a clear error.
    """
    if augment is None or isinstance(augment, Augment):
        return None if augment is not None and augment.is_identity else augment
    if callable(augment):
        return augment
    raise ValueError(
        f"`augment` must be a tfkd.data.Augment (or a deterministic callable "
        f"(images, labels, seeds, pool) -> (images, labels)), got {type(augment).__name__}."
    )
