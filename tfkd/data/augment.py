"""Stateless image augmentation: a pure function of (images, per-example seeds).

Every random choice (shift, flip, mixup partner and weight) is drawn with
TensorFlow's stateless random ops from one seed per example, so an augmented
example can be regenerated bit for bit from its seed: a resumed run sees the
batches an uninterrupted one would, and a teacher cache can store outputs for
an augmented view and replay them later (`tfkd.cache_teacher_views`).
"""

import tensorflow as tf

from tfkd.validation import finite_number

# Sub-streams of one example's seed (stateless_split order).
_SHIFT, _FLIP, _PARTNER, _WEIGHT, _PARTNER_SHIFT, _PARTNER_FLIP = range(6)


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
        streams = tf.map_fn(
            lambda s: tf.random.experimental.stateless_split(s, 6),
            seeds,
            fn_output_signature=tf.TensorSpec([6, 2], tf.int64),
        )
        out = self._shift_flip(images, streams[:, _SHIFT], streams[:, _FLIP])
        if not self.mixup:
            return out, labels
        if pool is None:
            raise ValueError("Augment with mixup needs `pool=(images, labels)` to draw partners from.")
        pool_x, pool_y = (tf.convert_to_tensor(p) for p in pool)
        n = tf.shape(pool_y, out_type=tf.int64)[0]
        classes = self.num_classes or tf.cast(tf.reduce_max(pool_y), tf.int32) + 1
        partner = tf.map_fn(
            lambda s: tf.random.stateless_uniform([], s, 0, n, dtype=tf.int64),
            streams[:, _PARTNER],
            fn_output_signature=tf.int64,
        )
        weight = tf.map_fn(self._beta, streams[:, _WEIGHT], fn_output_signature=tf.float32)
        other = self._shift_flip(
            tf.cast(tf.gather(pool_x, partner), images.dtype), streams[:, _PARTNER_SHIFT], streams[:, _PARTNER_FLIP]
        )
        w_img = tf.cast(tf.reshape(weight, [-1, 1, 1, 1]), images.dtype)
        mixed = w_img * out + (1 - w_img) * other
        onehot = lambda y: tf.one_hot(tf.cast(y, tf.int32), classes, dtype=tf.float32)
        w = weight[:, None]
        return mixed, w * onehot(labels) + (1 - w) * onehot(tf.gather(pool_y, partner))

    def _beta(self, seed):
        # Beta(a, a) as G1 / (G1 + G2) with two stateless Gamma(a) draws.
        g = tf.random.stateless_gamma([2], seed, alpha=self.mixup)
        return g[0] / tf.maximum(g[0] + g[1], 1e-12)

    def _shift_flip(self, images, shift_seeds, flip_seeds):
        if not (self.shift or self.flip):
            return images
        size = tf.shape(images)[1:]

        def one(args):
            image, s_seed, f_seed = args
            if self.shift:
                padded = tf.pad(image, [[self.shift, self.shift], [self.shift, self.shift], [0, 0]])
                image = tf.image.stateless_random_crop(padded, size, seed=s_seed)
            if self.flip:
                image = tf.image.stateless_random_flip_left_right(image, seed=f_seed)
            return image

        return tf.map_fn(
            one, (images, shift_seeds, flip_seeds), fn_output_signature=tf.TensorSpec(images.shape[1:], images.dtype)
        )

    def get_config(self):
        return {"shift": self.shift, "flip": self.flip, "mixup": self.mixup, "num_classes": self.num_classes}

    @classmethod
    def from_config(cls, config):
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
    pool) -> (images, labels)`; anything else is a clear error."""
    if augment is None or isinstance(augment, Augment):
        return None if augment is not None and augment.is_identity else augment
    if callable(augment):
        return augment
    raise ValueError(
        f"`augment` must be a tfkd.data.Augment (or a deterministic callable "
        f"(images, labels, seeds, pool) -> (images, labels)), got {type(augment).__name__}."
    )
