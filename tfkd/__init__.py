"""tfkd: knowledge distillation and mixed precision for Keras 3 on TensorFlow."""

from tfkd import callbacks, data, losses, models, pruning, teacher_cache
from tfkd.distiller import Distiller
from tfkd.export import export_student
from tfkd.pruning import prune_depth, prune_report, prune_width
from tfkd.taps import list_taps
from tfkd.teacher_cache import cache_teacher_outputs, cache_teacher_views
from tfkd.version import __version__

__all__ = [
    "__version__",
    "Distiller",
    "callbacks",
    "cache_teacher_outputs",
    "cache_teacher_views",
    "data",
    "export_student",
    "list_taps",
    "losses",
    "teacher_cache",
    "models",
    "prune_depth",
    "prune_report",
    "prune_width",
    "pruning",
]
