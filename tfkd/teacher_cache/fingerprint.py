"""Fingerprints of what a teacher cache holds: the teachers' weights, the
cached taps, the top-k setting and the data (and, for views, the
augmentation, the seed and the number of views). A cache file is named by
its fingerprint, so a rerun with the same ones reuses it and any change makes
a new one.
"""

import hashlib

import numpy as np
import tensorflow as tf

from tfkd.data import augment as augment_lib


def first_inputs(dataset):
    """The first element's inputs of `dataset`, flattened into one array."""
    element = next(iter(dataset.take(1)))
    x = element[0] if isinstance(element, tuple) else element
    return np.concatenate([np.asarray(v).ravel() for v in tf.nest.flatten(x)])


def teachers(distiller, top_k=None):
    """A hash of the teachers' names and weights, the cached taps and `top_k`."""
    h = hashlib.sha256()
    h.update(f"top_k={top_k};tail=logmeanexp".encode())
    for teacher in distiller.get_teachers():
        h.update(teacher.name.encode())
        for w in teacher.weights:
            h.update(np.ascontiguousarray(w.numpy()).tobytes())
    h.update(repr(distiller.teacher_keys()).encode())
    return h.hexdigest()


def dataset(distiller, data, top_k=None):
    """A hash of `teachers(...)` and the dataset (its spec, length and first inputs)."""
    h = hashlib.sha256()
    h.update(teachers(distiller, top_k).encode())
    h.update(repr(data.element_spec).encode())
    h.update(str(int(data.cardinality())).encode())
    h.update(first_inputs(data).tobytes())
    return h.hexdigest()[:16]


def views(distiller, examples, augment, num_views, top_k, seed):
    """A hash of `teachers(...)`, the examples, the augmentation's settings,
    the seed and the number of views.
    """
    h = hashlib.sha256()
    h.update(teachers(distiller, top_k).encode())
    augment_config = augment.get_config() if isinstance(augment, augment_lib.Augment) else repr(augment)
    h.update(f"views={num_views};seed={seed};augment={augment_config};draws=v{augment_lib.ALGORITHM}".encode())
    for part in tf.nest.flatten(examples):
        h.update(np.ascontiguousarray(np.asarray(part)).tobytes())
    return h.hexdigest()[:16]
