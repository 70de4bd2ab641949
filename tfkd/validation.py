"""Argument checks shared by the library, with one wording."""

import math


def finite_number(value, name, minimum=0.0, strict=False):
    """Returns `value` as a float if it is a finite number >= `minimum` (>
    with `strict`); bools are refused.

    Raises:
        ValueError: naming the argument, the bound and the value received.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        raise ValueError(f"`{name}` must be a finite number {'>' if strict else '>='} {minimum:g}, got {value!r}.")
    return float(value)
