"""Trainable adapters that map a student feature to the teacher's shape."""

import keras


def _shape(shape):
    return tuple(shape[1:])


def make_adapter(teacher_shape, student_shape, name):
    """Builds a float32 adapter from the static feature shapes, or None.

    - rank 2 `(B, D)`: a `Dense` to the teacher's width;
    - rank 3 `(B, L, D)` of equal length: a `Dense` on the last axis;
    - rank 4 `(B, H, W, C)` of equal spatial size: a 1×1 `Conv2D`;
    - rank 4 of a larger student map that is a whole multiple of the
      teacher's: a strided conv (kernel = stride = the ratio);
    - any other rank-4 case: bilinear resize to the teacher's size, then 1×1.
    Equal shapes need no adapter (returns None).

    Args:
        teacher_shape: the teacher feature's static shape, batch first.
        student_shape: the student feature's static shape, batch first.
        name: the adapter's layer name.

    Returns:
        A built `keras.layers.Layer` computing in float32, or None.

    Raises:
        ValueError: if the ranks differ, the shapes are not fully known, or
            no adapter fits.
    """
    t, s = _shape(teacher_shape), _shape(student_shape)
    if t == s:
        return None
    if len(t) != len(s) or None in t or None in s:
        raise ValueError(
            f"No adapter maps a student feature of shape {s} to a teacher "
            f"feature of shape {t} (batch axis omitted): the ranks differ or "
            "a size is unknown. Fix: tap layers of the same rank with known "
            "sizes, e.g. two conv feature maps or two dense layers."
        )
    if len(t) in (1, 2) and (len(t) == 1 or t[0] == s[0]):
        layer = keras.layers.Dense(t[-1], dtype="float32", name=name)
    elif len(t) == 3 and t[:2] == s[:2]:
        layer = keras.layers.Conv2D(t[-1], 1, dtype="float32", name=name)
    elif len(t) == 3 and s[0] % t[0] == 0 and s[1] % t[1] == 0 and s[0] > t[0]:
        stride = (s[0] // t[0], s[1] // t[1])
        layer = keras.layers.Conv2D(t[-1], stride, strides=stride, dtype="float32", name=name)
    elif len(t) == 3:
        layer = keras.Sequential(
            [
                keras.layers.Resizing(t[0], t[1], dtype="float32"),
                keras.layers.Conv2D(t[-1], 1, dtype="float32"),
            ],
            name=name,
        )
    else:
        raise ValueError(
            f"No adapter maps a student feature of shape {s} to a teacher "
            f"feature of shape {t}. Fix: tap layers whose leading sizes match."
        )
    layer.build((None,) + s)
    return layer
