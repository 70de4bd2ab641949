"""The Distiller: trains a student on hard labels plus distillation terms."""

import warnings

import keras
import tensorflow as tf

from tfkd import compat, distiller_args, precision
from tfkd import losses as losses_lib
from tfkd.batch_check import CACHED_INPUTS, EXAMPLE_INDEX, check_first_batch
from tfkd.loss_means import LossMeans
from tfkd.nonfinite import NONFINITE, STOP_AFTER_SKIPS, NonFiniteGuard, NonFiniteWarner
from tfkd.tap_plan import TapPlan
from tfkd.taps import LOGITS, OUTPUT

# Key of a dataset element's inputs that carries cached teacher outputs.
CACHED_TEACHER = "tfkd_teacher"
__all__ = ["CACHED_INPUTS", "CACHED_TEACHER", "EXAMPLE_INDEX", "STOP_AFTER_SKIPS", "Distiller"]


def _not_saved_whole(where):
    return (
        f"A Distiller is not saved whole ({where}): its teachers are frozen inputs, not state, and the file "
        "would reload with untrained teachers. Fix: tfkd.export_student(distiller, path) or "
        "distiller.student.save('student.keras') for the student; distiller.save_weights('run.weights.h5') or "
        "tfkd.callbacks.AtomicBackupAndRestore for resumable training state (student, adapters, optimizer)."
    )


class _Untracked:
    """Holds objects Keras must not track (so checkpoints skip teachers)."""

    def __init__(self, **items):
        self.__dict__.update(items)


@keras.saving.register_keras_serializable(package="tfkd")
class Distiller(keras.Model):
    """Distils one or more frozen teachers into a student, in one pass.

    Each training step runs the teachers once (`training=False`, outside the
    gradient tape) and the student **once** (`training=True`): the same
    forward pass gives the prediction for the hard-label loss given to
    `compile(loss=...)` and every tapped feature, so BatchNorm statistics
    update once and there is one dropout mask. Every distillation term is
    computed in float32. The total is

        loss = student_loss_weight · hard_loss + Σ weight_i · term_i
               (+ the student's regularisation losses).

    Validation (`evaluate`, `validation_data`) runs the student alone and
    reports the compiled loss (whatever `student_loss_weight` is) and
    metrics. `call(x)` is the student's output. When the student computes in
    float16, `compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer`.

    A Distiller is a training harness, not a deployable model: `save()`
    raises and points to `tfkd.export_student` (the student) and
    `save_weights` / `tfkd.callbacks.AtomicBackupAndRestore` (resumable
    training state without the teachers).

    Args:
        teacher: a built `keras.Model`, or a list of them (multi-teacher). It
            is frozen: never trained, never in the optimizer.
        student: a built `keras.Model` (Functional or Sequential to use taps).
        losses: list of `tfkd.losses.DistillationLoss` (or names).
        student_loss_weight: weight of the hard-label loss. Defaults to 0.1.
        teacher_weights: with several teachers, their weights in
            logits-level losses (normalised to sum to 1). Defaults to equal.
        balance: None, or `"initial"` to divide each distillation term by its
            value on the first training batch. Defaults to None.
        on_nonfinite: `"skip"` skips a step whose loss or inputs are not
            finite (counted in the `nonfinite_steps` metric, and warned about
            at the epoch's end naming the batch); `"raise"` stops with an
            error. Defaults to `"skip"`.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Raises:
        ValueError: before any work, for an unbuilt model, incompatible input
            shapes, an unknown layer (closest names listed), taps on a
            subclassed model, bad weights, or nothing to optimise.

    Example:

    ```python
    distiller = tfkd.Distiller(
        teacher=teacher, student=student,
        losses=[tfkd.losses.SoftLabels(temperature=4.0, weight=0.9),
                tfkd.losses.FeatureHint("t_block2", "s_block1")],
        student_loss_weight=0.1)
    distiller.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    distiller.fit(train_ds, validation_data=val_ds, epochs=3)
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        losses=(),
        student_loss_weight=0.1,
        teacher_weights=None,
        balance=None,
        on_nonfinite="skip",
        **kwargs,
    ):
        kwargs.setdefault("name", "distiller")
        super().__init__(**kwargs)
        teachers, losses, self.student_loss_weight, self.teacher_weights = distiller_args.check(
            teacher, student, losses, student_loss_weight, teacher_weights, balance
        )
        guard = NonFiniteGuard(on_nonfinite, student)
        self.balance = balance
        self.on_nonfinite = on_nonfinite
        self.distillation_losses = losses
        plan = TapPlan(teachers, student, losses)
        for t in teachers:
            t.trainable = False
        # Teachers, tap models and run state are kept away from Keras
        # tracking, so checkpoints and `save_weights` hold the student and
        # adapters only.
        self._frozen = _Untracked(teachers=teachers, plan=plan, guard=guard)
        self._build_losses()
        precision.warn_if_float16_output(student)
        distiller_args.warn_random_layers(student)

        self.student = student
        self.adapters = [layer for l in losses for layer in l.layers]
        # The student's loss, each distillation term and the skipped steps,
        # logged under their names.
        self._means = LossMeans(["student_loss", *(l.name for l in losses), NONFINITE], sums=[NONFINITE])
        if balance:
            self._balance_scales = self.add_weight(
                shape=(len(losses),),
                initializer="zeros",
                trainable=False,
                name="balance_scales",
                aggregation="only_first_replica",
            )
        self._config = dict(
            student_loss_weight=self.student_loss_weight,
            teacher_weights=teacher_weights,
            balance=balance,
            on_nonfinite=on_nonfinite,
        )
        self.built = True

    def _build_losses(self):
        plan = self._frozen.plan
        for loss, route in zip(self.distillation_losses, plan.routes):
            s_shape = plan.student_output_shape(route.student_key)
            for i in route.teacher_indices(plan.num_teachers):
                t_shape = plan.teacher_output_shape(i, route.teacher_key)
                if t_shape is None or s_shape is None:
                    continue
                if route.teacher_key == LOGITS and t_shape[-1] != s_shape[-1]:
                    raise ValueError(
                        f"Loss {loss.name!r} compares logits, but the teacher predicts {t_shape[-1]} classes and "
                        f"the student {s_shape[-1]}. Fix: give both the same number of output units."
                    )
                loss.build((None,) + t_shape, (None,) + s_shape)

    # ------------------------------------------------------------------ API
    def get_teachers(self):
        """The frozen teacher models, as a list."""
        return list(self._frozen.teachers)

    def teacher_outputs(self, x):
        """Runs every teacher once, frozen, on `x`.

        Returns:
            One float32 dict per teacher: its logits and every tap the losses
            read (what the teacher caches store).
        """
        return self._frozen.plan.teacher_outputs(x)

    def teacher_keys(self):
        """Per teacher, the sorted output keys the losses read."""
        return self._frozen.plan.teacher_keys()

    def teacher_output_shape(self, index, key):
        """Per-example static shape of teacher `index`'s output `key`."""
        return self._frozen.plan.teacher_output_shape(index, key)

    def call(self, inputs, training=False):
        """The student's output for `inputs` (cached-teacher batches' images too)."""
        if isinstance(inputs, dict) and CACHED_INPUTS in inputs:
            inputs = inputs[CACHED_INPUTS]
        return self.student(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`; adds loss scaling for a float16 student.

        The `LossScaleOptimizer` is decided from the student's compute dtype,
        not from the global policy. `loss` is the hard-label loss of the
        student: required when `student_loss_weight > 0`, and also accepted
        with `student_loss_weight=0`, where validation still reports it.

        Raises:
            ValueError: if `loss` is missing while `student_loss_weight > 0`.
        """
        if loss is None and self.student_loss_weight > 0:
            raise ValueError(
                f"compile() got no `loss`, but student_loss_weight={self.student_loss_weight} needs a hard-label "
                "loss. Fix: pass e.g. loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), or make "
                "the Distiller with student_loss_weight=0."
            )
        optimizer = precision.with_loss_scaling(optimizer, self.student)
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, plus a check of the first batch (input shape
        and dtype, labels present and in range) and of the callbacks before
        any step, and a warning naming any skipped batch.

        Raises:
            ValueError: for data that does not fit the models, or a
                `ModelCheckpoint` that would save the whole Distiller.
        """
        for cb in callbacks or []:
            if isinstance(cb, keras.callbacks.ModelCheckpoint) and not cb.save_weights_only:
                raise ValueError(
                    "ModelCheckpoint(save_weights_only=False) would save the whole Distiller, which holds frozen "
                    "teachers whose weights are not checkpointed. Fix: pass save_weights_only=True (student, "
                    "adapters and optimizer; reload with load_weights), use "
                    "tfkd.callbacks.AtomicBackupAndRestore to resume, or tfkd.export_student for the student."
                )
        check_first_batch(
            self.student, self.student_loss_weight > 0, x, y, batch_size, self.loss, self.distillation_losses
        )
        callbacks = list(callbacks or []) + [NonFiniteWarner(self._frozen.guard)]
        return super().fit(x, y, batch_size, *args, callbacks=callbacks, **kwargs)

    def save(self, filepath, *args, **kwargs):
        """Refused: a Distiller is a training harness (see the class doc).

        Raises:
            ValueError: always, naming what to use instead.
        """
        raise ValueError(_not_saved_whole(repr(filepath)))

    def save_assets(self, dir_path):
        """Refused: Keras calls it only to save a whole model.

        `keras.saving.save_model(distiller, "x.keras")` would write a file
        that reloads with untrained teachers, so it stops here, before any
        weight is written. `get_config()` and `save_weights` stay available.

        Raises:
            ValueError: always, naming what to use instead.
        """
        raise ValueError(_not_saved_whole("through keras.saving.save_model"))

    def load_assets(self, dir_path):
        """Refused: Keras calls it only to load a whole-model file.

        Raises:
            ValueError: always, naming what to use instead.
        """
        raise ValueError(_not_saved_whole("and this file cannot be loaded as one"))

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, restoring the optimizer state too.

        A freshly compiled Distiller's optimizer has no slot variables yet,
        so Keras would skip the saved ones (momenta, the loss scale); they
        are built first, and a resumed run continues exactly.

        Args:
            filepath: a `.weights.h5` file written by `save_weights`.
            *args: passed to `keras.Model.load_weights`.
            **kwargs: passed to `keras.Model.load_weights`.
        """
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().load_weights(filepath, *args, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if not compat.MULTI_WORKER_FIT_BUGS or iterator is None or self._distribute_strategy is None:
            return super()._maybe_symbolic_build(iterator, data_batch)
        strategy = self.distribute_strategy
        data_batch = compat.first_local_batch(strategy, iterator)
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    # ----------------------------------------------------------- the steps
    def _unpack(self, data):
        """`(inputs, labels, sample_weight, cached teacher outputs, example indices)`."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        cached = indices = None
        if isinstance(x, dict) and CACHED_INPUTS in x:
            cached = x.get(CACHED_TEACHER)
            indices = x.get(EXAMPLE_INDEX)
            x = x[CACHED_INPUTS]
            if cached is not None:
                self._frozen.plan.check_cached(cached)
        return x, y, sample_weight, cached, indices

    def _label_vectors(self, y):
        """The labels as float32 vectors `(B, classes)` for the losses that
        need them: sparse labels one-hot encoded, label vectors (one-hot or
        mixed) as they are; None when no loss needs them.
        """
        if y is None or not any(l.needs_labels for l in self.distillation_losses):
            return None
        classes = int(self.student.outputs[0].shape[-1])
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 2 and y.shape[-1] == classes and classes > 1:
            return tf.cast(y, "float32")  # one-hot or mixed label vectors, of any dtype
        return tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), classes, dtype="float32")

    def _terms(self, teacher_outs, student_out, step, labels=None, indices=None):
        plan = self._frozen.plan
        terms = []
        for loss, route in zip(self.distillation_losses, plan.routes):
            s = student_out[route.student_key]
            teachers = [teacher_outs[i][route.teacher_key] for i in route.teacher_indices(plan.num_teachers)]
            if len(teachers) > 1:
                terms.append(loss.over_teachers(teachers, s, step, self.teacher_weights, labels, indices))
            else:
                terms.append(loss(teachers[0], s, step, labels, indices))
        return terms

    def _hard_loss(self, y, y_pred, sample_weight, training=True):
        if (training and self.student_loss_weight == 0) or self._compile_loss is None or y is None:
            return tf.zeros((), "float32")
        loss = self._compile_loss(y, y_pred, sample_weight)
        # Keras divides compiled losses by the replica count; undo it so every
        # term is on the same per-replica scale until the final sum.
        return tf.cast(loss, "float32") * precision.num_replicas()

    def _balanced(self, terms):
        if not self.balance or not terms:
            return terms
        values = tf.stop_gradient(tf.stack(terms))
        unset = tf.equal(self._balance_scales, 0.0)
        scales = tf.where(unset, tf.maximum(values, 1e-12), self._balance_scales)
        self._balance_scales.assign(scales)
        return [t / scales[i] for i, t in enumerate(terms)]

    def train_step(self, data):
        """One step: teachers once (frozen, off the tape), the student once, every term in float32."""
        x, y, sample_weight, cached, indices = self._unpack(data)
        guard, plan = self._frozen.guard, self._frozen.plan
        # A value read now: apply_gradients increments the variable later on.
        step = tf.identity(self.optimizer.iterations)
        teacher_outs = cached if cached is not None else plan.teacher_outputs(x)
        snapshot = guard.snapshot()
        with tf.GradientTape() as tape:
            student_out = plan.student_outputs(x, training=True)
            y_pred = tf.cast(student_out[OUTPUT], "float32")
            hard = self._hard_loss(y, y_pred, sample_weight)
            terms = self._terms(teacher_outs, student_out, step, self._label_vectors(y), indices)
            weights = [l.weight(step) for l in self.distillation_losses]
            total = self.student_loss_weight * hard + tf.add_n(
                [tf.zeros((), "float32")]
                + [w * t for w, t in zip(weights, self._balanced(terms))]
                + [tf.cast(l, "float32") for l in self.student.losses]
            )
            scaled = self.optimizer.scale_loss(total / precision.num_replicas())
        variables = self.trainable_weights
        gradients = tape.gradient(scaled, variables)
        finite = guard.is_finite(total, x)
        in_a_row = guard.apply(self.optimizer, finite, gradients, variables, snapshot)

        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        self._update_trackers(finite, total, hard, terms, batch)
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        logs["loss"] = guard.reported_loss(logs["loss"], in_a_row)
        for loss, w in zip(self.distillation_losses, weights):
            if not loss.weight.is_constant:
                logs[f"{loss.name}_weight"] = w
            for key, schedule in loss.schedules().items():
                logs[f"{loss.name}_{key}"] = schedule(step)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            logs["loss_scale"] = tf.convert_to_tensor(self.optimizer.dynamic_scale)
        return compat.reducible_logs(self.distribute_strategy, logs)

    def _update_trackers(self, finite, total, hard, terms, batch):
        # A skipped step's losses are left out of the means and counted.
        weight = tf.cast(finite, "float32") * tf.cast(batch, "float32")
        self._loss_tracker.update_state(tf.where(finite, total, 0.0), sample_weight=weight)
        values = tf.stack([tf.cast(v, "float32") for v in (hard, *terms)])
        bad = 1.0 - tf.cast(finite, "float32")
        self._means.update_state(
            tf.concat([tf.where(finite, values, 0.0), bad[None]], 0),
            tf.concat([tf.fill(tf.shape(values), weight), [1.0]], 0),
        )

    def test_step(self, data):
        """Validation: the student alone, its compiled loss and metrics."""
        x, y, sample_weight, _, _ = self._unpack(data)
        y_pred = tf.cast(self.student(x, training=False), "float32")
        hard = self._hard_loss(y, y_pred, sample_weight, training=False)
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        self._loss_tracker.update_state(hard, sample_weight=batch)
        only_student_loss = tf.one_hot(0, len(self._means.names)) * tf.cast(batch, "float32")
        self._means.update_state(tf.fill([len(self._means.names)], tf.cast(hard, "float32")), only_student_loss)
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        skip = set(self._means.names[1:])
        return compat.reducible_logs(self.distribute_strategy, {k: v for k, v in logs.items() if k not in skip})

    def predict_step(self, data):
        """The student's predictions."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -------------------------------------------------------- serialisation
    def get_config(self):
        """The architectures, losses and settings (not the teachers' weights)."""
        teachers = self.get_teachers()
        ser = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "teacher": [ser(t) for t in teachers] if len(teachers) > 1 else ser(teachers[0]),
            "student": ser(self.student),
            "losses": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self.distillation_losses],
            **self._config,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds a Distiller from `get_config()`. The teachers come back
        as architectures with fresh weights (a config holds no weights), so
        this warns: load the teachers' weights before training.
        """
        config = dict(config)
        de = keras.saving.deserialize_keras_object
        teacher = config.pop("teacher")
        teacher = [de(t) for t in teacher] if isinstance(teacher, list) else de(teacher)
        student = de(config.pop("student"))
        losses = [losses_lib.get(l) for l in config.pop("losses")]
        warnings.warn(
            "Distiller.from_config rebuilt the teachers from their architectures with fresh, untrained weights "
            "(a config holds no weights). Fix: load their weights (get_teachers()[i].load_weights(...)) before "
            "fit, or build the Distiller from loaded teachers.",
            stacklevel=2,
        )
        return cls(teacher=teacher, student=student, losses=losses, **config)
