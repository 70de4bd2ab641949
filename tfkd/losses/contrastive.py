"""Contrastive representation distillation: Tian, Krishnan & Isola,
"Contrastive Representation Distillation" (ICLR 2020).
"""

import math

import keras
import tensorflow as tf

from tfkd.losses.base import DistillationLoss, flatten_batch, l2_normalize_rows, serializable
from tfkd.validation import finite_number

# Tap path meaning "the input of the layer that computes the logits" (the
# pooled features), resolved against each model when the Distiller is built.
PENULTIMATE = "<penultimate>"
# Added inside the NCE logarithms, as in the paper's code.
_NCE_EPSILON = 1e-7
_SAMPLE_SALT = 0x43524400  # "CRD": separates the negatives' stream from others


def _whole(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be a whole number >= {minimum}, got {value!r}.")
    return value


class ContrastMemory(keras.layers.Layer):
    """CRD's trainable embedding heads and its two memory banks.

    The banks hold one unit-length embedding per training example, of the
    student (`student_bank`) and of the teacher (`teacher_bank`), updated by
    momentum after every step; `normalizers` holds the two NCE normalising
    constants Z, fixed on the first batch. All of it is checkpointed with
    the student (`save_weights`, `AtomicBackupAndRestore`), so a resumed run
    continues with the same banks.

    Args:
        num_examples: N, the size of the training set (rows of each bank).
        feature_dim: width of the embeddings.
        teacher_dim, student_dim: flattened widths of the two features.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, num_examples, feature_dim, teacher_dim, student_dim, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.num_examples, self.feature_dim = num_examples, feature_dim
        self.embed_student = keras.layers.Dense(feature_dim, dtype="float32", name="embed_student")
        self.embed_teacher = keras.layers.Dense(feature_dim, dtype="float32", name="embed_teacher")
        self.embed_student.build((None, student_dim))
        self.embed_teacher.build((None, teacher_dim))
        # As in the paper's code: uniform in ±1/sqrt(d/3), then used as is.
        bound = 1.0 / math.sqrt(feature_dim / 3.0)
        init = keras.initializers.RandomUniform(-bound, bound, seed=0)
        shape = (num_examples, feature_dim)
        # ONLY_FIRST_REPLICA: with several replicas every replica computes the
        # same new rows (from all-gathered embeddings), and one write is kept.
        kw = dict(trainable=False, aggregation="only_first_replica")
        self.student_bank = self.add_weight(shape=shape, initializer=init, name="student_bank", **kw)
        self.teacher_bank = self.add_weight(shape=shape, initializer=init, name="teacher_bank", **kw)
        self.normalizers = self.add_weight(shape=(2,), initializer="zeros", name="normalizers", **kw)
        self.built = True

    def update(self, indices, student_rows, teacher_rows, momentum):
        """Moves the banks' rows `indices` towards the new embeddings and
        renormalises them; with several replicas, the rows of every replica.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            context = tf.distribute.get_replica_context()
            indices = context.all_gather(indices, axis=0)
            student_rows = context.all_gather(student_rows, axis=0)
            teacher_rows = context.all_gather(teacher_rows, axis=0)
        for bank, rows in ((self.student_bank, student_rows), (self.teacher_bank, teacher_rows)):
            old = tf.gather(bank, indices)
            new = l2_normalize_rows(momentum * old + (1.0 - momentum) * tf.stop_gradient(rows))
            if replicas > 1:
                bank.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(bank), indices[:, None], new))
            else:
                bank.value.scatter_update(tf.IndexedSlices(new, indices))


def nce_loss(positive, negatives, num_examples):
    """The NCE loss of CRD for one side, averaged over the batch.

    Args:
        positive: `(B,)` normalised scores of the positive pairs.
        negatives: `(B, K)` normalised scores of the K negatives.
        num_examples: N; the noise distribution is uniform, `P_n = 1/N`.

    Returns:
        `−mean_b [log h(pos_b) + Σ_k log(1 − h(neg_bk))]` with
        `h(x) = x / (x + K·P_n)`.
    """
    k = tf.cast(tf.shape(negatives)[1], tf.float32)
    noise = k / float(num_examples)
    log_pos = tf.math.log(positive / (positive + noise + _NCE_EPSILON))
    log_neg = tf.math.log(noise / (negatives + noise + _NCE_EPSILON))
    return -tf.reduce_mean(log_pos + tf.reduce_sum(log_neg, axis=1))


@serializable
class CRD(DistillationLoss):
    """Contrastive representation distillation with a memory bank.

    Student and teacher features (the inputs of their logits layers by
    default) go through trainable linear heads to `feature_dim` and are
    L2-normalised: `v_s`, `v_t`. Each student embedding must pick out the
    teacher's embedding of *the same example* among K negatives, and vice
    versa, scored by `exp(v · m / τ) / Z` against the memory banks `m` (one
    stored embedding per training example, updated by momentum after each
    step: `m_i ← normalise(momentum · m_i + (1 − momentum) · v_i)`). The loss
    is the NCE loss of both directions (`nce_loss`), with Z fixed on the
    first batch as the paper's code does (`Z = N · mean score`).

    The K negatives are drawn uniformly from the N examples per step (a
    stateless draw from the step, so a resumed run draws the same ones),
    one set shared by the batch: `2·B·K·feature_dim` multiply-adds per step
    instead of the paper's per-example draw of `B·K` rows.

    It needs each example's index in the dataset (`needs_indices`): use
    `tfkd.data.seeded_epochs(..., with_indices=True)` or
    `tfkd.cache_teacher_views`, whose batches carry them; the teacher's
    features may come from either cache. Under `tf.distribute` with several
    replicas, each replica scores its own examples against the shared
    banks, and the banks are updated with the all-gathered rows of every
    replica, so they stay identical everywhere.

    Args:
        teacher_layer: tap path of the teacher's features. Defaults to the
            input of its logits layer.
        student_layer: tap path of the student's features. Defaults to the
            input of its logits layer.
        feature_dim: width of the embeddings. Defaults to 128.
        negatives: K, negatives per step. Defaults to 16384 (the paper).
        temperature: τ > 0 of the scores. Defaults to 0.07.
        momentum: of the memory updates, in [0, 1). Defaults to 0.5.
        weight: the term's weight. Defaults to 0.8 (the paper's β).
        num_examples: N, the number of training examples (the banks'
            rows; every index must be below it). Required.
        name: metric name. Defaults to "crd".

    Raises:
        ValueError: for a bad `feature_dim`, `negatives`, `temperature`,
            `momentum` or `num_examples`; when the Distiller is built, for a
            missing `num_examples`.

    Example:

    ```python
    crd = tfkd.losses.CRD(num_examples=len(x), negatives=4096)
    distiller = tfkd.Distiller(teacher, student, losses=[tfkd.losses.SoftLabels(), crd])
    ds, steps = tfkd.data.seeded_epochs((x, y), 128, with_indices=True)
    distiller.fit(ds, epochs=10, steps_per_epoch=steps)
    ```
    """

    default_name = "crd"
    needs_indices = True

    def __init__(
        self,
        feature_dim=128,
        negatives=16384,
        temperature=0.07,
        momentum=0.5,
        weight=0.8,
        num_examples=None,
        teacher_layer=None,
        student_layer=None,
        name="crd",
    ):
        super().__init__(teacher_layer or PENULTIMATE, student_layer or PENULTIMATE, weight=weight, name=name)
        self.feature_dim = _whole(feature_dim, "feature_dim", 1)
        self.negatives = _whole(negatives, "negatives", 1)
        self.temperature = finite_number(temperature, "temperature", strict=True)
        self.momentum = finite_number(momentum, "momentum")
        if self.momentum >= 1.0:
            raise ValueError(f"`momentum` must be in [0, 1), got {momentum!r}.")
        self.num_examples = None if num_examples is None else _whole(num_examples, "num_examples", 2)
        self.memory = None

    @property
    def layers(self):
        """The `ContrastMemory` layer (heads and memory banks), once built."""
        return [self.memory] if self.memory is not None else []

    def build(self, teacher_shape, student_shape):
        """Creates the heads and the memory banks from the feature shapes."""
        if self.memory is not None:
            return
        if self.num_examples is None:
            raise ValueError(
                f"Loss {self.name!r} (CRD) needs num_examples, the number of training examples, to size its "
                "memory banks. Fix: tfkd.losses.CRD(num_examples=len(train_images), ...)."
            )
        dims = [math.prod(s[1:]) for s in (teacher_shape, student_shape)]
        self.memory = ContrastMemory(self.num_examples, self.feature_dim, *dims, name=f"{self.name}_memory")

    def _scores(self, anchors, bank, indices, negative_ids, z_slot):
        """Normalised positive `(B,)` and negative `(B, K)` scores of `anchors`."""
        positive = tf.reduce_sum(anchors * tf.gather(bank, indices), axis=1)
        negatives = tf.matmul(anchors, tf.gather(bank, negative_ids), transpose_b=True)
        positive = tf.exp(positive / self.temperature)
        negatives = tf.exp(negatives / self.temperature)
        # Z = N · mean score, fixed on the first batch (the paper's code).
        z = self.memory.normalizers[z_slot]
        first = tf.stop_gradient(tf.reduce_mean(tf.concat([positive[:, None], negatives], 1))) * self.num_examples
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            # The mean over the global batch (replicas hold equal shares).
            first = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, first)
        z = tf.where(z > 0, z, first)
        return positive / z, negatives / z, z

    def compute(self, teacher, student, step=None, indices=None):
        """NCE in both directions against the banks; then updates the batch's rows."""
        if self.memory is None:
            self.build(tuple(teacher.shape), tuple(student.shape))
        v_s = l2_normalize_rows(self.memory.embed_student(flatten_batch(student)))
        v_t = l2_normalize_rows(self.memory.embed_teacher(flatten_batch(teacher)))
        seed = tf.stack([tf.constant(_SAMPLE_SALT, tf.int64), tf.cast(0 if step is None else step, tf.int64)])
        negative_ids = tf.random.stateless_uniform(
            [self.negatives], seed=seed, maxval=self.num_examples, dtype=tf.int64
        )
        # The student's embedding against the teacher's bank, and vice versa.
        pos_s, neg_s, z_s = self._scores(v_s, self.memory.teacher_bank, indices, negative_ids, 0)
        pos_t, neg_t, z_t = self._scores(v_t, self.memory.student_bank, indices, negative_ids, 1)
        loss = nce_loss(pos_s, neg_s, self.num_examples) + nce_loss(pos_t, neg_t, self.num_examples)
        self.memory.normalizers.assign(tf.stack([z_s, z_t]))
        self.memory.update(indices, v_s, v_t, self.momentum)
        return loss

    def get_config(self):
        """The constructor arguments, for `from_config`."""
        return {
            "feature_dim": self.feature_dim,
            "negatives": self.negatives,
            "temperature": self.temperature,
            "momentum": self.momentum,
            "weight": self.weight.get_config(),
            "num_examples": self.num_examples,
            "teacher_layer": None if self.teacher_layer == PENULTIMATE else self.teacher_layer,
            "student_layer": None if self.student_layer == PENULTIMATE else self.student_layer,
            "name": self.name,
        }
