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
- a later search runs ``fails`` on copies of the kept cases, in the same order, each with the
  global random generators seeded as ``find`` seeds them for a case (its
  ``deterministic_PRNG``): the student's code sees the calls ``find`` would make. If none
  fails, the answer is the one ``find`` would give (no failing case). If one fails, ``find``
  runs as usual to shrink it; that case and the ones before it are not run again when ``find``
  draws them (each compared, value by value, with the kept one; their outcomes are known), so
  the student's code sees the calls ``find`` alone would make.

A strategy is known by its ``repr``; one whose ``repr`` shows a function (``map``, ``filter``
or ``builds`` with a lambda, whose captured values it does not show) is never replayed. A search
is not kept when a case raised (an ``assume`` that hypothesis handles, say); a kept
case that raises one of hypothesis's own exceptions when replayed (``note`` outside ``find``)
sends that search back to ``find``. A check whose strategy at one place in its code depended on
the student's answers would break the premise; none does (a strategy is a fixed description of
the inputs).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import find
from hypothesis.errors import HypothesisException, NoSuchExample

try:  # how find seeds the global random generators for each case (not public API)
    from hypothesis.internal.entropy import deterministic_PRNG as seeded_like_find
except ImportError:  # another hypothesis: every search is find's own
    seeded_like_find = None  # type: ignore[assignment]

__all__ = ["find_smallest"]

_KEPT: dict[tuple, list] = {}  # the cases find drew, per (code, strategy, settings)
_FIND_ONLY: set[tuple] = set()  # searches whose cases cannot be replayed


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
    code = _code(where) if seeded_like_find is not None else None
    described = repr(strategy)
    if _FUNCTION_IN_REPR.search(described):
        code = None  # ``map(lambda x: x * k)`` reads the same for every k: find's own search
    key = None if code is None else (code, described, repr(search))
    key = None if key in _FIND_ONLY else key
    kept = _KEPT.get(key) if key is not None else None
    passed = 0
    if key is not None and kept is not None:
        try:
            passed = _replay(kept, fails)
        except HypothesisException:  # hypothesis's own (note outside find): find's search
            del _KEPT[key]
            _FIND_ONLY.add(key)
            kept, passed, key = None, 0, None
        if kept is not None and passed == len(kept):
            return None
    drawn: list | None = [] if key is not None and kept is None else None
    calls, clean = 0, True

    def seen_or_fails(case: Any) -> bool:
        nonlocal calls, clean
        calls += 1
        if drawn is not None:
            drawn.append(_copy(case))
        if kept is not None and calls <= passed + 1 and _same(case, kept[calls - 1]):
            return calls > passed  # this student's code ran this very case a moment ago
        try:
            return fails(case)
        except BaseException:
            clean = False
            raise

    try:
        return find(strategy, seen_or_fails, settings=search)
    except NoSuchExample:
        if key is not None and drawn is not None and clean:
            if all(case is not _UNCOPIABLE for case in drawn):
                _KEPT[key] = drawn
        if kept is not None and passed < len(kept):
            return copy.deepcopy(kept[passed])  # it failed once: never report a pass
        return None


def _replay(kept: list, fails: Callable[[Any], bool]) -> int:
    """How many of the kept cases pass, in order, up to the first that fails."""
    for number, case in enumerate(kept):
        with seeded_like_find():
            if fails(copy.deepcopy(case)):
                return number
    return len(kept)


_UNCOPIABLE = object()
_FUNCTION_IN_REPR = re.compile(r"lambda|<function| at 0x")  # values a repr does not show


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
