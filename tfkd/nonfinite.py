"""Steps whose loss or inputs are not finite: skip them (or raise), keep the
model's state untouched, and tell the user which batches were skipped.

A skipped step applies no gradient and puts back the student's BatchNorm
statistics (they change in the forward pass, before the loss is known). Its
loss is left out of the epoch's means. After `STOP_AFTER_SKIPS` skipped steps
in a row the reported loss reads NaN, so `keras.callbacks.TerminateOnNaN`
stops a run that keeps failing, while single bad batches are just skipped.
"""

import warnings

import keras
import tensorflow as tf

STOP_AFTER_SKIPS = 5
# The metric that counts skipped steps.
NONFINITE = "nonfinite_steps"
# Skipped steps remembered per epoch for the warning (the count is exact).
_REMEMBERED = 16


class NonFiniteGuard:
    """Decides, applies or skips one training step.

    Args:
        mode: `"skip"` or `"raise"`.
        student: the student model (its changing non-trainable state is
            snapshotted and restored on a skipped step).

    Raises:
        ValueError: for an unknown mode.
    """

    def __init__(self, mode, student):
        if mode not in ("skip", "raise"):
            raise ValueError(f"`on_nonfinite` must be 'skip' or 'raise', got {mode!r}.")
        self.mode = mode
        self._student = student
        # Transient run state: kept out of checkpoints (not tracked by Keras).
        self.in_a_row = keras.Variable(
            0, dtype="int64", trainable=False, name="skips_in_a_row", aggregation="only_first_replica"
        )
        self.count = keras.Variable(
            0, dtype="int64", trainable=False, name="skips_this_epoch", aggregation="only_first_replica"
        )
        self.batch = keras.Variable(
            0, dtype="int64", trainable=False, name="batch_in_epoch", aggregation="only_first_replica"
        )
        self.steps = keras.Variable(
            tf.fill([_REMEMBERED], tf.constant(-1, tf.int64)),
            dtype="int64",
            trainable=False,
            name="skipped_steps",
            aggregation="only_first_replica",
        )

    def snapshot(self):
        """Copies of the student state a forward pass changes (BatchNorm
        moving statistics), or [] when nothing needs restoring.
        """
        if self.mode != "skip":
            return []
        return [(v, tf.identity(v)) for v in self._student.non_trainable_variables if "float" in str(v.dtype)]

    def is_finite(self, total, inputs):
        """One boolean: the loss and every float input are finite, agreed
        across replicas (a replica with a bad batch makes all skip).
        """
        checks = [tf.reduce_all(tf.math.is_finite(tf.cast(total, "float32")))]
        checks += [tf.reduce_all(tf.math.is_finite(v)) for v in tf.nest.flatten(inputs) if v.dtype.is_floating]
        finite = tf.reduce_all(tf.stack(checks)) if len(checks) > 1 else checks[0]
        if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context() is False:
            bad = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, "float32")
            )
            finite = tf.equal(bad, 0.0)
        return finite

    def apply(self, optimizer, finite, gradients, variables, snapshot):
        """Applies the gradients if `finite`, else skips the step (or raises)
        and restores `snapshot`. Returns how many steps in a row failed.

        With one replica and a plain optimizer, the step is one `tf.cond`:
        apply the gradients, or restore the snapshot and record the skip; a
        finite step does no bookkeeping beyond two counters.
        """
        if self.mode == "raise":
            check = tf.debugging.assert_equal(
                finite,
                True,
                message=(
                    "tfkd: the loss or the inputs are not finite (NaN or Inf in the inputs, labels or model); "
                    "on_nonfinite='raise'"
                ),
            )
            with tf.control_dependencies([check]):
                gradients = [g if g is None else tf.identity(g) for g in gradients]
            optimizer.apply_gradients(zip(gradients, variables))
        elif tf.distribute.get_strategy().num_replicas_in_sync == 1 and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):

            def apply():
                optimizer.apply_gradients(zip(gradients, variables))
                return tf.constant(True)

            def skip():
                _restore(snapshot)
                self._record_skip(tf.constant(True))
                return tf.constant(False)

            tf.cond(finite, apply, skip)
        else:
            # Several replicas (variables synchronised on assignment, which
            # may not happen inside a replica-side tf.cond) or a
            # LossScaleOptimizer (which decides itself).
            _apply_if_finite(optimizer, finite, gradients, variables)
            if snapshot:

                def restore():
                    _restore(snapshot)
                    return tf.constant(False)

                tf.cond(finite, lambda: tf.constant(True), restore)
            self._record_skip(tf.logical_not(finite))
        self.batch.assign_add(1)
        in_a_row = tf.where(finite, tf.zeros((), "int64"), self.in_a_row + 1)
        self.in_a_row.assign(in_a_row)
        return in_a_row

    def _record_skip(self, skipped):
        """If `skipped`, remembers the step's batch (the first few per epoch)
        and counts it.
        """
        slot = tf.math.floormod(self.count, _REMEMBERED)
        here = tf.logical_and(skipped, tf.range(_REMEMBERED, dtype=tf.int64) == slot)
        self.steps.assign(tf.where(here, self.batch, self.steps))
        self.count.assign_add(tf.cast(skipped, tf.int64))

    def reported_loss(self, loss, in_a_row):
        """The epoch's mean loss, or NaN once too many steps failed in a row."""
        return tf.where(in_a_row >= STOP_AFTER_SKIPS, float("nan"), tf.cast(loss, "float32"))


def _restore(snapshot):
    for v, old in snapshot:
        v.assign(old)


def _apply_if_finite(optimizer, finite, gradients, variables):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        # It checks the gradients itself, skips and lowers the scale; bad
        # inputs reach it as NaN gradients so it skips those steps too (on
        # every replica: the gradients are all-reduced).
        nan = tf.constant(float("nan"))
        gradients = [g if g is None else tf.where(finite, g, tf.cast(nan, g.dtype)) for g in gradients]
        optimizer.apply_gradients(zip(gradients, variables))
        return

    def apply(grads, variables):
        optimizer.apply_gradients(zip(grads, variables))

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(finite, lambda: apply(gradients, variables) or tf.constant(True), lambda: tf.constant(False))
        return

    # Several replicas: apply_gradients all-reduces, which may not sit in a
    # replica-side tf.cond. Decide in cross-replica context, as Keras's
    # LossScaleOptimizer does; `finite` was agreed across replicas.
    def cross_replica(strategy, finite, grads, variables):
        first = strategy.experimental_local_results(finite)[0]
        tf.__internal__.smart_cond.smart_cond(
            first, lambda: strategy.extended.call_for_each_replica(apply, args=(grads, variables)), lambda: None
        )

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(finite, gradients, variables))


class NonFiniteWarner(keras.callbacks.Callback):
    """At the end of each epoch, warns once per skipped step, naming the epoch
    and batch. It reads the guard's state once an epoch (no per-batch sync).

    Args:
        guard: the Distiller's `NonFiniteGuard`.
    """

    def __init__(self, guard):
        super().__init__()
        self.guard = guard

    def on_epoch_begin(self, epoch, logs=None):
        """Resets the guard's per-epoch record of skipped batches."""
        self.guard.count.assign(0)
        self.guard.batch.assign(0)
        self.guard.steps.assign(tf.fill([_REMEMBERED], tf.constant(-1, tf.int64)))

    def on_epoch_end(self, epoch, logs=None):
        """Warns once per skipped batch of the epoch, naming it."""
        count = int(self.guard.count.numpy())
        if not count:
            return
        steps = sorted(int(s) for s in self.guard.steps.numpy() if s >= 0)
        for s in steps:
            warnings.warn(
                f"tfkd: skipped the step of epoch {epoch}, batch {s}: its loss was not finite "
                "(NaN or Inf in the inputs, labels or model). Weights were not updated.",
                stacklevel=2,
            )
        if count > len(steps):
            warnings.warn(f"tfkd: skipped {count} steps in all in epoch {epoch}.", stacklevel=2)
