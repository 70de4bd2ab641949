"""The tap plan: which teacher and student outputs each distillation loss reads.

A `Route` says where one loss takes its two tensors from; a `TapPlan` builds
one functional tap model per network (once), runs the teachers frozen, and
checks that cached teacher outputs fit the plan.
"""

import dataclasses

import tensorflow as tf

from tfkd.losses.contrastive import PENULTIMATE
from tfkd.taps import LOGITS, OUTPUT, build_tap_model, penultimate_path


@dataclasses.dataclass(frozen=True)
class Route:
    """Where one loss reads its inputs.

    Attributes:
        teacher: index of the teacher, or None for "every teacher" (a
            logits-level loss with several teachers fans out over them).
        teacher_key: the teacher output key (`LOGITS` or a tap path).
        student_key: the student output key (`LOGITS` or a tap path).
    """

    teacher: int | None
    teacher_key: str
    student_key: str

    def teacher_indices(self, num_teachers):
        """The teachers this route reads: one, or all of them."""
        return range(num_teachers) if self.teacher is None else [self.teacher]


def _routes(losses, teachers, student):
    """One `Route` per loss, and the tap paths each network must expose."""
    by_name = {t.name: i for i, t in enumerate(teachers)}
    teacher_paths = [[] for _ in teachers]
    student_paths, routes = [], []
    for loss in losses:
        student_layer = loss.student_layer
        if student_layer == PENULTIMATE:
            student_layer = penultimate_path(student, "student")
        s_key = student_layer or LOGITS
        if student_layer:
            student_paths.append(student_layer)
        if loss.teacher_layer is None:
            routes.append(Route(None, LOGITS, s_key))
            continue
        path, index = loss.teacher_layer, 0
        if path == PENULTIMATE:
            if len(teachers) > 1:
                raise ValueError(
                    f"Loss {loss.name!r} reads the teacher's penultimate features, but there are several "
                    f"teachers. Fix: pass teacher_layer='<teacher name>/<layer>' (teachers: {sorted(by_name)})."
                )
            path = penultimate_path(teachers[0], "teacher")
        head, _, rest = path.partition("/")
        if len(teachers) > 1:
            if head not in by_name or not rest:
                raise ValueError(
                    f"Loss {loss.name!r}: with several teachers, `teacher_layer` must start with the teacher's "
                    f"model name, e.g. '{teachers[0].name}/layer'. Got {path!r}; teacher names: {sorted(by_name)}."
                )
            path, index = rest, by_name[head]
        elif head == teachers[0].name and rest:
            path = rest
        teacher_paths[index].append(path)
        routes.append(Route(index, path, s_key))
    return routes, teacher_paths, student_paths


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


class TapPlan:
    """Tap models of the teachers and the student, and each loss's route.

    Args:
        teachers: list of built `keras.Model` teachers.
        student: the built student `keras.Model`.
        losses: the `DistillationLoss` list, in order.

    Raises:
        ValueError: for an unknown layer, a subclassed model with taps, or a
            multi-teacher path without the teacher's name.
    """

    def __init__(self, teachers, student, losses):
        self.routes, teacher_paths, student_paths = _routes(losses, teachers, student)
        self.teacher_taps = [_tapper(t, p, "teacher") for t, p in zip(teachers, teacher_paths)]
        self.student_taps = _tapper(student, student_paths, "student")

    @property
    def num_teachers(self):
        """How many teachers the plan runs."""
        return len(self.teacher_taps)

    def teacher_output_shape(self, index, key):
        """Static shape (batch excluded) of teacher `index`'s output `key`,
        or None when unknown (a subclassed teacher).
        """
        out = getattr(self.teacher_taps[index], "output", None)
        return tuple(out[key].shape[1:]) if isinstance(out, dict) and key in out else None

    def student_output_shape(self, key):
        """Static shape (batch excluded) of the student's output `key`, or None."""
        out = getattr(self.student_taps, "output", None)
        return tuple(out[key].shape[1:]) if isinstance(out, dict) and key in out else None

    def teacher_keys(self):
        """Per teacher, the sorted output keys the losses read."""
        keys = [set() for _ in self.teacher_taps]
        for route in self.routes:
            for i in route.teacher_indices(self.num_teachers):
                keys[i].add(route.teacher_key)
        return [sorted(k) for k in keys]

    def teacher_outputs(self, x):
        """Runs every teacher once (`training=False`, off the tape); returns
        one float32 dict per teacher.
        """
        outs = []
        for taps in self.teacher_taps:
            out = taps(x, training=False)
            outs.append({k: tf.stop_gradient(tf.cast(v, "float32")) for k, v in out.items()})
        return outs

    def student_outputs(self, x, training):
        """The student's output, logits and taps in one forward pass."""
        return self.student_taps(x, training=training)

    def check_cached(self, cached):
        """Raises a ValueError unless `cached` (one dict per teacher) holds
        every output the losses need, with the right shapes. Runs at trace
        time.
        """
        ok = isinstance(cached, (tuple, list)) and len(cached) == self.num_teachers
        for route in self.routes if ok else []:
            for i in route.teacher_indices(self.num_teachers):
                expected = self.teacher_output_shape(i, route.teacher_key)
                got = cached[i].get(route.teacher_key) if isinstance(cached[i], dict) else None
                if got is None or (expected is not None and tuple(got.shape[1:]) != expected):
                    ok = False
        if not ok:
            raise ValueError(
                "This dataset carries cached teacher outputs that do not fit this Distiller (other teachers, "
                "taps or shapes). Fix: rebuild it with tfkd.cache_teacher_outputs(this_distiller, dataset) or "
                "tfkd.cache_teacher_views(this_distiller, ...)."
            )
