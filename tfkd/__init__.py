"""tfkd: knowledge distillation and mixed precision for Keras 3 on TensorFlow."""

from tfkd import losses
from tfkd.distiller import Distiller
from tfkd.taps import list_taps

__version__ = "0.1.0"

__all__ = ["Distiller", "losses", "list_taps"]
