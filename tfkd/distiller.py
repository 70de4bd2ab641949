"""The Distiller: trains a student on hard labels plus distillation terms."""

import math
import warnings

import keras
import tensorflow as tf

from tfkd import losses as losses_lib
from tfkd import precision
from tfkd.batch_check import CACHED_INPUTS, check_first_batch
from tfkd.taps import LOGITS, OUTPUT, build_tap_model

# Key of a dataset element's inputs that carries cached teacher outputs.
CACHED_TEACHER = "tfkd_teacher"
# Skipped steps in a row after which the reported loss is NaN.
STOP_AFTER_SKIPS = 5


class _Untracked:
    """Holds objects Keras must not track (so checkpoints skip teachers)."""

    def __init__(self, **items):
        self.__dict__.update(items)


class _NonFiniteWarner(keras.callbacks.Callback):
    """Warns once per skipped step, naming the epoch and batch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.seen = epoch, 0.0

    def on_train_batch_end(self, batch, logs=None):
        count = float((logs or {}).get("nonfinite_steps", 0.0))
        if count > getattr(self, "seen", 0.0):
            warnings.warn(
                f"tfkd: skipped the step of epoch {getattr(self, 'epoch', 0)}, "
                f"batch {batch}: its loss was not finite (NaN or Inf in the "
                "inputs, labels or model). Weights were not updated.",
                stacklevel=2,
            )
        self.seen = count


def _check_model(model, role):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"The {role} must be a keras.Model, got {type(model).__name__}."
        )
    if not model.built or not getattr(model, "inputs", None) and not model.weights:
        raise ValueError(
            f"The {role} `{model.name}` is not built: it has no weights or "
            "input shape yet. Fix: build it with `keras.Input(shape=...)` or "
            "call it once on a batch (and, for a teacher, load or train its "
            "weights) before making the Distiller."
        )


def _input_shapes(model):
    inputs = getattr(model, "inputs", None)
    return [tuple(x.shape[1:]) for x in inputs] if inputs else None


def _number(value, name, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value >= minimum
    ):
        raise ValueError(
            f"`{name}` must be a finite number >= {minimum}, got {value!r}."
        )
    return float(value)


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
    reports the compiled loss and metrics. `call(x)` is the student's output.
    When the student computes in float16, `compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer`: the loss is scaled inside the tape
    and a step whose gradients are not finite is skipped, lowering the scale.

    Args:
        teacher: a built `keras.Model`, or a list of them (multi-teacher). It
            is frozen: never trained, never in the optimizer.
        student: a built `keras.Model` (Functional or Sequential to use taps).
        losses: list of `tfkd.losses.DistillationLoss` (or names).
        student_loss_weight: weight of the hard-label loss. Defaults to 0.1.
        teacher_weights: with several teachers, their weights in soft labels
            (normalised to sum to 1). Defaults to equal weights.
        balance: None, or `"initial"` to divide each distillation term by its
            value on the first training batch. Defaults to None.
        on_nonfinite: `"skip"` skips a step whose loss is not finite (counted
            in the `nonfinite_steps` metric); `"raise"` stops with an error.
            Defaults to `"skip"`.
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

    def __init__(self, teacher, student, losses=(), student_loss_weight=0.1,
                 teacher_weights=None, balance=None, on_nonfinite="skip", **kwargs):
        kwargs.setdefault("name", "distiller")
        super().__init__(**kwargs)
        teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
        if not teachers:
            raise ValueError("`teacher` must be a keras.Model or a non-empty list of them.")
        for i, t in enumerate(teachers):
            _check_model(t, "teacher" if len(teachers) == 1 else f"teacher #{i}")
        _check_model(student, "student")
        if isinstance(losses, (losses_lib.DistillationLoss, str)):
            losses = [losses]
        losses = [losses_lib.get(loss) for loss in losses]
        self.student_loss_weight = _number(student_loss_weight, "student_loss_weight")
        if not losses and self.student_loss_weight == 0:
            raise ValueError(
                "Nothing to optimise: `losses` is empty and "
                "student_loss_weight=0. Fix: pass distillation losses, e.g. "
                "`losses=[tfkd.losses.SoftLabels()]`, or a student_loss_weight > 0."
            )
        if self.student_loss_weight == 0 and all(
            l.weight.is_constant and l.weight.value == 0 for l in losses
        ):
            raise ValueError(
                "All weights are zero (student_loss_weight=0 and every loss "
                "weight=0): nothing would be learnt. Fix: give at least one "
                "a weight > 0."
            )
        names = [l.name for l in losses]
        if len(set(names)) != len(names):
            raise ValueError(
                f"Two distillation losses share a name: {names}. Fix: pass "
                "`name=` to tell them apart in the metrics."
            )
        self._check_inputs(teachers, student)
        self.teacher_weights = self._check_teacher_weights(teacher_weights, len(teachers))
        if balance not in (None, "initial"):
            raise ValueError(f"`balance` must be None or 'initial', got {balance!r}.")
        if on_nonfinite not in ("skip", "raise"):
            raise ValueError(
                f"`on_nonfinite` must be 'skip' or 'raise', got {on_nonfinite!r}."
            )
        self.balance = balance
        self.on_nonfinite = on_nonfinite
        self.distillation_losses = losses

        routes, teacher_paths, student_paths = self._plan(losses, teachers)
        for t in teachers:
            t.trainable = False
        teacher_taps = [
            self._tapper(t, paths, "teacher") for t, paths in zip(teachers, teacher_paths)
        ]
        student_taps = self._tapper(student, student_paths, "student")
        # Teachers and tap models are kept away from Keras tracking, so
        # checkpoints and `save_weights` hold the student and adapters only.
        self._frozen = _Untracked(
            teachers=teachers, teacher_taps=teacher_taps,
            student_taps=student_taps, routes=routes,
        )
        self._build_losses(losses, routes, teacher_taps, student_taps)
        precision.warn_if_float16_output(student)

        self.student = student
        self.adapters = [layer for l in losses for layer in l.layers]
        self._student_loss_tracker = keras.metrics.Mean(name="student_loss")
        # Transient run state, kept out of checkpoints.
        self._frozen.skips_in_a_row = keras.Variable(
            0, dtype="int64", trainable=False, name="skips_in_a_row", aggregation="only_first_replica")
        self._term_trackers = [keras.metrics.Mean(name=n) for n in names]
        self._nonfinite_counter = keras.metrics.Sum(name="nonfinite_steps")
        if balance:
            self._balance_scales = self.add_weight(
                shape=(len(losses),), initializer="zeros", trainable=False,
                name="balance_scales", aggregation="only_first_replica",
            )
        self._config = dict(
            student_loss_weight=self.student_loss_weight,
            teacher_weights=teacher_weights, balance=balance,
            on_nonfinite=on_nonfinite,
        )
        self.built = True

    # ----------------------------------------------------------- construction
    @staticmethod
    def _check_inputs(teachers, student):
        s_shapes = _input_shapes(student)
        for t in teachers:
            t_shapes = _input_shapes(t)
            if s_shapes is None or t_shapes is None:
                continue
            compatible = len(t_shapes) == len(s_shapes) and all(
                len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))
                for a, b in zip(t_shapes, s_shapes)
            )
            if not compatible:
                raise ValueError(
                    f"Teacher `{t.name}` and student `{student.name}` take "
                    f"inputs of incompatible shapes: teacher {t_shapes}, "
                    f"student {s_shapes} (batch axis omitted). Both are fed "
                    "the same batch. Fix: build both with the same input shape."
                )

    @staticmethod
    def _check_teacher_weights(weights, n):
        if weights is None:
            return None
        weights = list(weights)
        if len(weights) != n:
            raise ValueError(
                f"`teacher_weights` has {len(weights)} entries for {n} teachers."
            )
        weights = [_number(w, "teacher_weights[i]") for w in weights]
        if sum(weights) <= 0:
            raise ValueError("`teacher_weights` must not all be zero.")
        return weights

    @staticmethod
    def _plan(losses, teachers):
        """Routes each loss to (teacher index or None for all, keys)."""
        by_name = {t.name: i for i, t in enumerate(teachers)}
        teacher_paths = [[] for _ in teachers]
        student_paths, routes = [], []
        for loss in losses:
            s_key = loss.student_layer or LOGITS
            if loss.student_layer:
                student_paths.append(loss.student_layer)
            if loss.teacher_layer is None:
                routes.append((None, LOGITS, s_key))
                continue
            path, index = loss.teacher_layer, 0
            head, _, rest = path.partition("/")
            if len(teachers) > 1:
                if head not in by_name or not rest:
                    raise ValueError(
                        f"Loss {loss.name!r}: with several teachers, "
                        "`teacher_layer` must start with the teacher's model "
                        f"name, e.g. '{teachers[0].name}/layer'. Got {path!r}; "
                        f"teacher names: {sorted(by_name)}."
                    )
                path, index = rest, by_name[head]
            elif head == teachers[0].name and rest:
                path = rest
            teacher_paths[index].append(path)
            routes.append((index, path, s_key))
        return routes, teacher_paths, student_paths

    @staticmethod
    def _tapper(model, paths, role):
        """A callable returning {OUTPUT, LOGITS, *paths} for `model`."""
        try:
            return build_tap_model(model, paths, role)
        except ValueError:
            if paths or hasattr(model, "_nodes_by_depth"):
                raise
        # A subclassed model distilled on its outputs alone needs no taps.
        def call(x, training=False):
            y = model(x, training=training)
            return {OUTPUT: y, LOGITS: y}
        call.output = None
        return call

    def _build_losses(self, losses, routes, teacher_taps, student_taps):
        def shape(taps, key):
            out = getattr(taps, "output", None)
            return tuple(out[key].shape) if isinstance(out, dict) else None

        for loss, (t_index, t_key, s_key) in zip(losses, routes):
            s_shape = shape(student_taps, s_key)
            indices = range(len(teacher_taps)) if t_index is None else [t_index]
            for i in indices:
                t_shape = shape(teacher_taps[i], t_key)
                if t_shape is None or s_shape is None:
                    continue
                if t_key == LOGITS and t_shape[-1] != s_shape[-1]:
                    raise ValueError(
                        f"Loss {loss.name!r} compares logits, but the teacher "
                        f"predicts {t_shape[-1]} classes and the student "
                        f"{s_shape[-1]}. Fix: give both the same number of "
                        "output units."
                    )
                loss.build(t_shape, s_shape)

    # ------------------------------------------------------------------ API
    def get_teachers(self):
        """The frozen teacher models, as a list."""
        return list(self._frozen.teachers)

    def call(self, inputs, training=False):
        if isinstance(inputs, dict) and CACHED_INPUTS in inputs:
            inputs = inputs[CACHED_INPUTS]
        return self.student(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Like `keras.Model.compile`; adds loss scaling for a float16 student.

        The `LossScaleOptimizer` is decided from the student's compute dtype,
        not from the global policy. `loss` is the hard-label loss of the
        student; it is required when `student_loss_weight > 0`.

        Raises:
            ValueError: if `loss` is missing while `student_loss_weight > 0`.
        """
        if loss is None and self.student_loss_weight > 0:
            raise ValueError(
                f"compile() got no `loss`, but student_loss_weight="
                f"{self.student_loss_weight} needs a hard-label loss. Fix: "
                "pass e.g. loss=keras.losses.SparseCategoricalCrossentropy("
                "from_logits=True), or make the Distiller with "
                "student_loss_weight=0."
            )
        optimizer = precision.with_loss_scaling(optimizer, self.student)
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, plus a check of the first batch (input shape
        and dtype, labels present and in range) before any step, and a
        warning naming any skipped batch.

        Raises:
            ValueError: for data that does not fit the models.
        """
        batch_size = args[0] if args else kwargs.get("batch_size")
        check_first_batch(self.student, self.student_loss_weight > 0, x, y, batch_size)
        callbacks = list(callbacks or []) + [_NonFiniteWarner()]
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 builds metrics from a first batch averaged over replicas
        # with strategy.reduce, which fails under MultiWorkerMirroredStrategy
        # (it cannot convert the PerReplica (x, y) tuple). Only the batch's
        # structure and shapes matter, so take the first local replica's.
        if iterator is None or self._distribute_strategy is None:
            return super()._maybe_symbolic_build(iterator, data_batch)
        strategy = self.distribute_strategy
        for _, _, it in iterator:
            data_batch = tf.nest.map_structure(
                lambda v: strategy.experimental_local_results(v)[0]
                if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    # ----------------------------------------------------------- the steps
    def _teacher_outputs(self, x):
        """Runs every teacher once, frozen; returns float32 dicts."""
        outs = []
        for taps in self._frozen.teacher_taps:
            out = taps(x, training=False)
            outs.append({k: tf.stop_gradient(tf.cast(v, "float32")) for k, v in out.items()})
        return outs

    def _terms(self, teacher_outs, student_out, step):
        terms = []
        for loss, (t_index, t_key, s_key) in zip(self.distillation_losses, self._frozen.routes):
            s = student_out[s_key]
            if t_index is None:
                t = [o[t_key] for o in teacher_outs]
                value = loss(t if len(t) > 1 else t[0], s, step, self.teacher_weights)
            else:
                value = loss(teacher_outs[t_index][t_key], s, step)
            terms.append(value)
        return terms

    def _hard_loss(self, y, y_pred, sample_weight):
        if self.student_loss_weight == 0 or self._compile_loss is None:
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

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        cached = None
        if isinstance(x, dict) and CACHED_INPUTS in x:
            cached = x[CACHED_TEACHER]
            x = x[CACHED_INPUTS]
            self._check_cache(cached)
        return x, y, sample_weight, cached

    def _check_cache(self, cached):
        """Runs at trace time: a cache from another distiller is refused."""
        want = self._frozen.teacher_taps
        ok = isinstance(cached, (tuple, list)) and len(cached) == len(want)
        for t_index, t_key, _ in self._frozen.routes if ok else []:
            for i in range(len(want)) if t_index is None else [t_index]:
                expected = tuple(want[i].output[t_key].shape[1:]) if hasattr(want[i], "output") and want[i].output else None
                got = cached[i].get(t_key) if isinstance(cached[i], dict) else None
                if got is None or (expected is not None and tuple(got.shape[1:]) != expected):
                    ok = False
        if not ok:
            raise ValueError(
                "This dataset carries cached teacher outputs that do not fit "
                "this Distiller (other teachers, taps or shapes). Fix: rebuild "
                "it with tfkd.cache_teacher_outputs(this_distiller, dataset)."
            )

    def train_step(self, data):
        x, y, sample_weight, cached = self._unpack(data)
        # A value read now: apply_gradients increments the variable later on.
        step = tf.identity(self.optimizer.iterations)
        teacher_outs = cached if cached is not None else self._teacher_outputs(x)
        variables = self.trainable_weights
        # BatchNorm statistics change in the forward pass; a skipped step
        # puts them back, so no NaN reaches any weight.
        stateful = self.student.non_trainable_variables if self.on_nonfinite == "skip" else []
        snapshot = [tf.identity(v) for v in stateful]
        with tf.GradientTape() as tape:
            student_out = self._frozen.student_taps(x, training=True)
            y_pred = tf.cast(student_out[OUTPUT], "float32")
            hard = self._hard_loss(y, y_pred, sample_weight)
            terms = self._terms(teacher_outs, student_out, step)
            weights = [l.weight(step) for l in self.distillation_losses]
            total = self.student_loss_weight * hard + tf.add_n(
                [tf.zeros((), "float32")]
                + [w * t for w, t in zip(weights, self._balanced(terms))]
                + [tf.cast(l, "float32") for l in self.student.losses]
            )
            scaled = self.optimizer.scale_loss(total / precision.num_replicas())
        gradients = tape.gradient(scaled, variables)
        finite = tf.math.is_finite(total)
        for value in tf.nest.flatten(x):
            if value.dtype.is_floating:
                finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(value)))
        if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context() is False:
            # Every replica must take the same decision: skip if any is bad.
            bad = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, "float32"))
            finite = tf.equal(bad, 0.0)
        if self.on_nonfinite == "raise":
            check = tf.debugging.assert_equal(finite, True, message=(
                "tfkd: the loss or the inputs are not finite (NaN or Inf in "
                "the inputs, labels or model); on_nonfinite='raise'"))
            with tf.control_dependencies([check]):
                gradients = [g if g is None else tf.identity(g) for g in gradients]
            self.optimizer.apply_gradients(zip(gradients, variables))
        else:
            self._apply_if_finite(finite, gradients, variables)
            if stateful:
                def restore():
                    for v, old in zip(stateful, snapshot):
                        v.assign(old)
                    return tf.constant(False)
                tf.cond(finite, lambda: tf.constant(True), restore)

        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        self._update_trackers(finite, total, hard, terms, batch)
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        # Skipped steps are left out of the mean. After STOP_AFTER_SKIPS in a
        # row the loss reads NaN, so keras.callbacks.TerminateOnNaN stops a
        # run that keeps failing while single bad batches are just skipped.
        in_a_row = tf.where(finite, tf.zeros((), "int64"), self._frozen.skips_in_a_row + 1)
        self._frozen.skips_in_a_row.assign(in_a_row)
        logs["loss"] = tf.where(in_a_row >= STOP_AFTER_SKIPS, float("nan"), tf.cast(logs["loss"], "float32"))
        for loss, w in zip(self.distillation_losses, weights):
            if not loss.weight.is_constant:
                logs[f"{loss.name}_weight"] = w
            t = getattr(loss, "temperature", None)
            if t is not None and not t.is_constant:
                logs[f"{loss.name}_temperature"] = t(step)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            logs["loss_scale"] = tf.convert_to_tensor(self.optimizer.dynamic_scale)
        return self._reducible(logs)

    def _reducible(self, logs):
        # Keras 3.15 averages logs across workers with strategy.reduce(...,
        # axis=0), which fails on scalars; give them a length-1 axis there.
        strategy = self.distribute_strategy
        multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                        and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))
        if not multi_worker:
            return logs
        return {k: tf.reshape(tf.cast(v, "float32"), [1]) for k, v in logs.items()}

    def _apply_if_finite(self, finite, gradients, variables):
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            # It checks the gradients itself, skips and lowers the scale; bad
            # inputs reach it as NaN gradients so it skips those steps too
            # (on every replica: the gradients are all-reduced).
            nan = tf.constant(float("nan"))
            gradients = [g if g is None else tf.where(finite, g, tf.cast(nan, g.dtype)) for g in gradients]
            self.optimizer.apply_gradients(zip(gradients, variables))
            return

        def apply(grads, variables):
            self.optimizer.apply_gradients(zip(grads, variables))

        if tf.__internal__.distribute.strategy_supports_no_merge_call():
            tf.cond(finite, lambda: apply(gradients, variables) or tf.constant(True), lambda: tf.constant(False))
            return

        # Several replicas: apply_gradients all-reduces, which may not sit in
        # a replica-side tf.cond. Decide in cross-replica context, as Keras's
        # LossScaleOptimizer does; `finite` was agreed across replicas.
        def cross_replica(strategy, finite, grads, variables):
            first = strategy.experimental_local_results(finite)[0]
            tf.__internal__.smart_cond.smart_cond(
                first, lambda: strategy.extended.call_for_each_replica(apply, args=(grads, variables)),
                lambda: None)

        tf.distribute.get_replica_context().merge_call(cross_replica, args=(finite, gradients, variables))

    def _update_trackers(self, finite, total, hard, terms, batch):
        finite_or_zero = lambda v: tf.where(finite, v, tf.zeros_like(v))
        weight = tf.cast(finite, "float32") * tf.cast(batch, "float32")
        self._loss_tracker.update_state(finite_or_zero(total), sample_weight=weight)
        self._student_loss_tracker.update_state(finite_or_zero(hard), sample_weight=weight)
        for tracker, term in zip(self._term_trackers, terms):
            tracker.update_state(finite_or_zero(term), sample_weight=weight)
        self._nonfinite_counter.update_state(1.0 - tf.cast(finite, "float32"))

    def test_step(self, data):
        x, y, sample_weight, _ = self._unpack(data)
        y_pred = tf.cast(self.student(x, training=False), "float32")
        hard = self._hard_loss(y, y_pred, sample_weight)
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        self._loss_tracker.update_state(hard, sample_weight=batch)
        self._student_loss_tracker.update_state(hard, sample_weight=batch)
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        skip = {t.name for t in self._term_trackers} | {"nonfinite_steps"}
        return self._reducible({k: v for k, v in logs.items() if k not in skip})

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # -------------------------------------------------------- serialisation
    def get_config(self):
        teachers = self.get_teachers()
        ser = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "teacher": [ser(t) for t in teachers] if len(teachers) > 1 else ser(teachers[0]),
            "student": ser(self.student),
            "losses": [
                {"class_name": type(l).__name__, "config": l.get_config()}
                for l in self.distillation_losses
            ],
            **self._config,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        de = keras.saving.deserialize_keras_object
        teacher = config.pop("teacher")
        teacher = [de(t) for t in teacher] if isinstance(teacher, list) else de(teacher)
        student = de(config.pop("student"))
        losses = [losses_lib.get(l) for l in config.pop("losses")]
        return cls(teacher=teacher, student=student, losses=losses, **config)
