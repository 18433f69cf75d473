"""Hypothesis's drawn cases, drawn once per grading process and replayed for every student.

A check's ``against_reference`` asks hypothesis's ``find`` for the smallest drawn case on which
the student's answer fails. The search is repeatable (``derandomize``: the seed is fixed, and
the cases drawn depend only on the strategy, the settings and which cases fail), so on a right
answer, where no case fails, ``find`` draws the same cases for every student of a class, and
its engine (the choice tree, the random state saved and restored around every case) costs the
parent more time than the student's code. ``find_smallest`` keeps those cases, per place in
the checks' code (the ``check_case`` function's code), strategy and settings:

- the first search of that kind in a process is hypothesis's own; when no case fails, the cases
  it drew (copies taken before each ran) are kept;
- a later search runs ``fails`` on copies of the kept cases, in the same order: the student's
  code sees the calls ``find`` would make. If none fails, the answer is the one ``find`` would
  give (no failing case). If one fails, ``find`` runs as usual to shrink it; the cases before it,
  already seen to pass, are not run again when ``find`` draws them (each compared, value by
  value, with the kept one).

A check whose strategy at one place in its code depended on the student's answers would break
the premise; none does (a strategy is a fixed description of the inputs).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import find
from hypothesis.errors import NoSuchExample

__all__ = ["find_smallest"]

_KEPT: dict[tuple, list] = {}


def find_smallest(
    strategy: Any, fails: Callable[[Any], bool], search: Any, where: Callable | None
) -> Any:
    """The smallest case of ``strategy`` on which ``fails`` is true, or None (as ``find``).

    Parameters
    ----------
    strategy : hypothesis strategy
    fails : callable
        ``fails(case) -> bool``.
    search : hypothesis settings
        With ``derandomize=True`` (a search that draws the same cases every time).
    where : callable or None
        The check's function for one case: its code (a ``partial``'s function's) names the
        place in the checks' code the search is made for. None: ``find`` itself, no replay.
    """
    code = _code(where)
    key = None if code is None else (code, repr(strategy), repr(search))
    kept = _KEPT.get(key) if key is not None else None
    passed = 0
    if kept is not None:
        for case in kept:
            if fails(copy.deepcopy(case)):
                break
            passed += 1
        else:
            return None
    drawn: list | None = [] if key is not None and kept is None else None
    calls = 0

    def seen_or_fails(case: Any) -> bool:
        nonlocal calls
        calls += 1
        if drawn is not None:
            drawn.append(_copy(case))
        if kept is not None and calls <= passed and _same(case, kept[calls - 1]):
            return False  # this student's code passed this very case a moment ago
        return fails(case)

    try:
        return find(strategy, seen_or_fails, settings=search)
    except NoSuchExample:
        if key is not None and drawn is not None and all(c is not _UNCOPIABLE for c in drawn):
            _KEPT[key] = drawn
        if kept is not None and passed < len(kept):
            return copy.deepcopy(kept[passed])  # it failed once: never report a pass
        return None


_UNCOPIABLE = object()


def _code(function: Any) -> Any:
    """The code object of a function, a method or a ``partial`` of one; None otherwise."""
    while isinstance(function, functools.partial):
        function = function.func
    return getattr(getattr(function, "__func__", function), "__code__", None)


def _copy(case: Any) -> Any:
    try:
        return copy.deepcopy(case)
    except Exception:  # a drawn value that cannot be copied: the search is not kept
        return _UNCOPIABLE


def _same(a: Any, b: Any) -> bool:
    """Whether two drawn cases hold the same values (arrays compared element by element)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    try:
        return bool(a == b)
    except Exception:
        return False
