"""The teacher/student pairs of the speed and memory benchmarks, and how
each builds its tfkd Distiller."""

import dataclasses

import keras

from tfkd import losses, models
from tfkd.distiller import Distiller

TEMPERATURE, ALPHA = 4.0, 0.1


@dataclasses.dataclass(frozen=True)
class Pair:
    """A teacher/student pair and the two layer pairs its hints use."""

    name: str
    student_width: int
    hints: tuple = (("t_block1", "s_block1"), ("t_block2", "s_block2"))

    def build(self, input_shape, num_classes):
        teacher = models.get("cnn_teacher", input_shape, num_classes)
        student = models.get("cnn_small", input_shape, num_classes, width=self.student_width)
        return teacher, student


# "small": the reference pair (student 5% of the teacher's parameters; hints
# need adapters). "wide": the student's feature maps match the teacher's, so
# keras.distillation's feature loss (no adapters) can run on the same work.
PAIRS = {"small": Pair("small", 16), "wide": Pair("wide", 32)}


# The view cache of the cached rows: views per example and logits kept.
VIEWS, TOP_K = 8, 5


def compile_args(categorical=False, **kwargs):
    """`compile` arguments of every row: Adam 1e-3 and cross-entropy."""
    loss = keras.losses.CategoricalCrossentropy if categorical else keras.losses.SparseCategoricalCrossentropy
    return dict(optimizer=keras.optimizers.Adam(1e-3), loss=loss(from_logits=True), **kwargs)


def tfkd_distiller(teacher, student, pair, hints=False):
    """The tfkd rows' Distiller: soft labels (and the pair's hints)."""
    terms = [losses.SoftLabels(TEMPERATURE, weight=1 - ALPHA)]
    if hints:
        adapter = None if pair.name == "wide" else "auto"
        terms += [losses.FeatureHint(t, s, adapter=adapter) for t, s in pair.hints]
    return Distiller(teacher, student, losses=terms, student_loss_weight=ALPHA)
