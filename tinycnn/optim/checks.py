"""Checking hyperparameters: every schedule, optimizer and callback argument, one rule.

A setting that is NaN, infinite, of the wrong sign or fractional where Keras counts (steps,
epochs) trains wrongly without a word: a negative rate climbs the loss, an infinite epsilon
never moves a weight, ``patience=1.5`` or ``int(inf)`` surprises. So each is checked where it
is given, and refused with a ``ValueError`` naming the owner, the argument, the range and what
came::

    ReduceLROnPlateau: cooldown must be >= 0 (an integer), got -1
    Adam: epsilon must be > 0 (a finite number), got inf
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np


def number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the range, else ValueError naming ``owner`` and ``name``.

    ``low``/``high`` bound it (excluded with ``low_open``/``high_open``); None: unbounded.
    """
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(
            f"{owner}: {name} must be{_range(low, high, low_open, high_open)} (a finite "
            f"number), got {value!r}"
        )
    return float(value)


def count(owner: str, name: str, value: Any, *, low: int = 0) -> int:
    """``value`` as an int >= ``low`` (a whole float such as 3.0 is accepted), else ValueError."""
    whole = (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (isinstance(value, Integral) or float(value).is_integer())
    )
    if not whole or value < low:
        raise ValueError(f"{owner}: {name} must be >= {low} (an integer), got {value!r}")
    return int(value)


def steps(owner: str, name: str, value: Any) -> float | int:
    """A positive finite step length, kept as given: Keras keeps ``decay_steps=2.7`` as 2.7."""
    length = number(owner, name, value, low=0, low_open=True)
    return int(length) if length.is_integer() else length


def flag(owner: str, name: str, value: Any) -> bool:
    """``value`` when it is True or False (NumPy's bool too), else ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def _range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return " finite"
