"""Making the student's file from an exercise file: nbgrader's transform, for ``.py`` files.

An exercise file marks its answer and its checks the way nbgrader marks a notebook:

- a region from a line containing ``### BEGIN SOLUTION`` to one containing ``### END SOLUTION``
  is the reference answer. The student's version replaces it by the code stub, indented like
  the BEGIN line (nbgrader's ``ClearSolutions``; its default stub is ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``; ours names the exercise in the error);
- a region from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` is deleted, markers
  included (nbgrader's ``ClearHiddenTests``). Exercise files keep their checks there.

Nested or unclosed regions are refused, as nbgrader refuses them. The teacher's version
(``tinycnn exercises start NAME --solution``) keeps the solutions with their markers, so
nbgrader (or ``clear_solutions``) can make the student's version from it, and still drops the
checks.
"""

from __future__ import annotations

import re

__all__ = ["clear_hidden_tests", "clear_solutions", "solution_text"]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
DEFAULT_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def _regions(lines: list[str], begin: str, end: str) -> list[tuple[int, int]]:
    """``(first, last)`` line numbers of each begin/end region; ValueError if badly nested."""
    regions, start = [], None
    for number, line in enumerate(lines):
        if begin in line:
            if start is not None:
                raise ValueError(f"line {number + 1}: {begin!r} inside another region")
            start = number
        elif end in line:
            if start is None:
                raise ValueError(f"line {number + 1}: {end!r} without {begin!r}")
            regions.append((start, number))
            start = None
    if start is not None:
        raise ValueError(f"line {start + 1}: {begin!r} is never closed by {end!r}")
    return regions


def _replace_regions(text: str, begin: str, end: str, replace) -> str:
    lines = text.splitlines(keepends=True)
    for first, last in reversed(_regions(lines, begin, end)):
        lines[first : last + 1] = replace(lines[first], lines[first + 1 : last])
    return "".join(lines)


def clear_hidden_tests(text: str) -> str:
    """Delete every hidden-tests region, marker lines included."""
    return _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, lambda begin, body: [])


def clear_solutions(text: str, stub: str = DEFAULT_STUB) -> str:
    """The student's version: each solution region becomes ``stub``, indented like its BEGIN.

    Hidden-test regions are deleted as well.
    """

    def replace(begin: str, body: list[str]) -> list[str]:
        indent = re.match(r"\s*", begin).group(0)  # type: ignore[union-attr]
        return [f"{indent}{line}\n" for line in stub.splitlines()]

    return _replace_regions(clear_hidden_tests(text), BEGIN_SOLUTION, END_SOLUTION, replace)


def solution_text(text: str) -> str:
    """The teacher's version: solutions kept with their markers, hidden tests deleted."""
    _regions(text.splitlines(), BEGIN_SOLUTION, END_SOLUTION)  # refuse bad nesting here too
    return clear_hidden_tests(text)
