"""The grader: run an exercise's checks in order on the student's file and explain a failure.

A check is a function ``check(student)`` that returns when the student's code is right and
raises ``CheckError(message, hint)`` when it is not. ``grade`` runs the exercise's checks in order
and stops at the first failure (TEACHING.md's grading order): shapes and dtypes, a worked example,
properties, the reference on hypothesis-drawn configurations, a float64 gradient check, edge
cases. What the student sees:

- a stub (any ``NotImplementedError``) or a missing file: "not started", never "failed";
- an exception in the student's code: the frames of the student's own file and the error, no
  library internals (``StudentError``);
- a wrong answer: which check failed, the (smallest, for drawn cases) failing input, expected
  against got with the positions that differ, and a hint when the answer matches the output of
  a known mistake on that input (its *fingerprint*, see ``compare``).

The student's file is imported by path (``load_student``), never by module name, so the grader
cannot silently test the reference instead.
"""

from __future__ import annotations

import copy
import itertools
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import HealthCheck, find, settings
from hypothesis.errors import NoSuchExample

from tinycnn.layers.base import Layer
from tinycnn.teach.exercises.hints import HintLadder, hints_opened
from tinycnn.teach.exercises.questions import Question, QuestionResult, grade_questions

__all__ = [
    "Check",
    "Exercise",
    "CheckError",
    "FunctionLayer",
    "HintLadder",
    "NotStartedError",
    "Question",
    "Report",
    "Student",
    "StudentError",
    "against_reference",
    "compare",
    "expect_tuple",
    "grade",
    "load_student",
    "smallest_failing_case",
]

Mistake = tuple[Callable[[], Any], str]  # (what the mistake would output, the hint)


class CheckError(Exception):
    """A check failed: ``message`` says what and how; ``hint`` names the likely mistake."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class NotStartedError(Exception):
    """The student's file is missing or a function still raises ``NotImplementedError``."""


class StudentError(Exception):
    """The student's code raised; ``text`` is the traceback cut to the student's own file."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def student_traceback(error: BaseException, path: Path) -> str:
    """The frames of ``error``'s traceback that lie in ``path``, then the error itself."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve() == path.resolve()
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return "".join(lines).rstrip()


_counter = itertools.count()


def load_student(path: Path) -> ModuleType:
    """Import the file at ``path`` as a fresh module (by path, under a unique name).

    Raises
    ------
    NotStartedError
        If the file does not exist.
    StudentError
        If importing it raises (a syntax error, a bad import), with the student's frames.
    """
    if not path.is_file():
        raise NotStartedError(
            f"{path} does not exist (to begin: tinycnn exercises start {path.stem} {path.parent})"
        )
    # compiled from the text, not through importlib: a cached .pyc of an earlier version written
    # within the same second could be run instead
    module = ModuleType(f"_tinycnn_student_{next(_counter)}")
    module.__file__ = str(path)
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    except Exception as error:  # the student's module, whatever it raises
        raise StudentError(student_traceback(error, path)) from None
    return module


class Student:
    """The student's module; ``call`` runs one of its functions and classifies what it raises."""

    def __init__(
        self, path: Path, functions: Sequence[str], progress: Callable[[str], None] | None = None
    ) -> None:
        self.path = path
        self.progress = progress or (lambda line: None)  # a long check's lines as it runs
        self.module = load_student(path)
        for name in functions:
            if not callable(getattr(self.module, name, None)):
                raise CheckError(f"{path.name} defines no function {name}(...)")

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``name(*args, **kwargs)`` from the student's file, on copies of array arguments."""
        args = tuple(copy.deepcopy(a) if isinstance(a, np.ndarray) else a for a in args)
        return self.call_shared(name, *args, **kwargs)

    def call_shared(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``name(*args, **kwargs)`` on the caller's own arrays (for in-place protocols).

        Warnings are silenced: a hypothesis search would repeat an overflow warning hundreds of
        times, and the failing case's report says what went wrong.
        """
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return getattr(self.module, name)(*args, **kwargs)
        except NotImplementedError:
            raise NotStartedError(
                f"{name} still raises NotImplementedError: write your answer in its place"
            ) from None
        except Exception as error:  # the student's code, whatever it raises
            raise StudentError(student_traceback(error, self.path)) from None


def _positions(expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> str:
    """``"k of n positions differ"`` and the first few, as index: expected vs got."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=False)
    where = np.argwhere(bad)
    lines = [f"{len(where)} of {expected.size} positions differ, e.g."]
    for index in where[:4]:
        at = tuple(int(i) for i in index)
        lines.append(f"  at {at}: expected {expected[at]:.8g}, got {got[at]:.8g}")
    return "\n".join(lines)


def compare(
    what: str,
    expected: Any,
    got: Any,
    mistakes: Sequence[Mistake] = (),
    rtol: float = 1e-6,
    atol: float = 1e-9,
    note: str | None = None,
) -> None:
    """Raise ``CheckError`` unless ``got`` equals ``expected`` (shape, then values).

    Parameters
    ----------
    what : str
        Names the value (``"cols"``, ``"dw"``).
    expected, got : array_like
    mistakes : sequence of (callable, str)
        Fingerprints: each callable returns what a known mistake would output on this input;
        if ``got`` matches one, its hint is attached to the failure.
    rtol, atol : float
        ``np.isclose`` tolerances.
    note : str, optional
        Added to the message when no fingerprint matches (what the check can say for sure).
    """
    try:
        _compare(what, np.asarray(expected), got, mistakes, rtol, atol)
    except CheckError as failure:
        if failure.hint is None and note:
            raise CheckError(f"{failure.message}\n{note}") from None
        raise


def _compare(what, expected, got, mistakes, rtol, atol) -> None:
    if not isinstance(got, (np.ndarray, float, int, np.floating)):
        raise CheckError(f"{what}: expected an ndarray, got {type(got).__name__}")
    got = np.asarray(got)
    if got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    hint = _matching_hint(got, mistakes, rtol, atol)  # only now: a mistake may be costly to make
    if got.shape != expected.shape:
        raise CheckError(f"{what}: expected shape {expected.shape}, got {got.shape}", hint)
    if expected.ndim == 0:
        raise CheckError(f"{what}: expected {float(expected):.8g}, got {float(got):.8g}", hint)
    raise CheckError(f"{what}: expected vs got\n{_positions(expected, got, rtol, atol)}", hint)


def expect_tuple(got: Any, function: str, names: Sequence[str]) -> tuple:
    """``got`` if it is a tuple of ``len(names)`` values; else ``CheckError`` naming them."""
    if not isinstance(got, tuple) or len(got) != len(names):
        raise CheckError(f"{function} should return a tuple ({', '.join(names)})")
    return got


def _matching_hint(got: np.ndarray, mistakes: Sequence[Mistake], rtol, atol) -> str | None:
    for wrong, hint in mistakes:
        try:
            with np.errstate(all="ignore"):  # some mistakes overflow, which is their point
                candidate = np.asarray(wrong())
        except (ValueError, IndexError, ZeroDivisionError, FloatingPointError):
            continue  # the mistake cannot even be made on this input
        if candidate.shape == got.shape and np.allclose(
            got, candidate, rtol=rtol, atol=atol, equal_nan=True
        ):
            return hint
    return None


def smallest_failing_case(strategy: Any, check_case: Callable[[Any], None], max_examples=60):
    """Let hypothesis find the smallest drawn case on which ``check_case`` fails, or None.

    ``check_case(case)`` raises ``CheckError`` or ``StudentError`` on a wrong answer. Hypothesis
    shrinks toward small sizes; settings make the search repeatable (``derandomize``), with no
    example database and no deadline (the first call may compile Numba kernels).
    """

    def fails(case: Any) -> bool:
        try:
            check_case(case)
        except (CheckError, StudentError):
            return True
        return False

    search = settings(
        database=None,
        derandomize=True,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=list(HealthCheck),
    )
    try:
        return find(strategy, fails, settings=search)
    except NoSuchExample:
        return None


def against_reference(strategy, check_case, describe=repr, max_examples=60) -> None:
    """Raise the failure of the smallest drawn case, prefixed with that case."""
    case = smallest_failing_case(strategy, check_case, max_examples)
    if case is None:
        return
    try:
        check_case(case)
    except CheckError as failure:
        message = f"smallest failing case: {describe(case)}\n{failure.message}"
        raise CheckError(message, failure.hint) from None
    except StudentError as error:
        raise StudentError(f"smallest failing case: {describe(case)}\n{error.text}") from None


class FunctionLayer(Layer):
    """A layer made of two functions, for gradient checks of the student's backward pass.

    ``forward(x, *params) -> out`` and ``backward(dout, x, *params) -> dx`` or
    ``(dx, dparam1, ...)``; ``params`` is a dict in the order the functions take them.
    """

    def __init__(self, forward, backward, params: dict[str, np.ndarray]) -> None:
        super().__init__("student")
        self._forward, self._backward = forward, backward
        self.params = {key: np.array(value, dtype=np.float64) for key, value in params.items()}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.built = True

    def forward(self, x, training=False):
        self._cache = x
        return self._forward(x, *self.params.values())

    def backward(self, dout):
        result = self._backward(dout, self._cache, *self.params.values())
        if not self.params:
            return result
        dx, *dparams = result
        for key, value in zip(self.params, dparams, strict=True):
            self.grads[key] = np.asarray(value)
        return dx


@dataclass(frozen=True)
class Check:
    """One grading step: ``run(student)`` raises ``CheckError`` on a wrong answer."""

    name: str
    run: Callable[[Student], None]


@dataclass(frozen=True)
class Exercise:
    """An exercise: its name, topic, the functions the student writes, and its checks.

    ``questions`` are graded from the ``ANSWERS`` dictionary of the student's file
    (``questions``); ``hints`` is the three-level ladder ``tinycnn exercises hint`` opens.
    """

    name: str
    topic: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    source: Path = field(default=Path())
    questions: tuple[Question, ...] = ()
    hints: HintLadder | None = None

    def student_path(self, folder: Path) -> Path:
        """Where the student's file for this exercise lives in ``folder``."""
        return Path(folder) / f"{self.name}.py"


@dataclass
class Report:
    """Outcome of grading one exercise in one folder; ``str()`` is what the student reads."""

    exercise: str
    path: Path
    status: str  # "passed", "failed" or "not started"
    passed: list[str]
    failed_check: str | None = None
    message: str = ""
    hint: str | None = None
    total: int = 0
    questions: list[QuestionResult] = field(default_factory=list)
    hints_opened: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed and every question was answered right."""
        return self.status == "passed" and all(q.ok for q in self.questions)

    @property
    def question_points(self) -> tuple[int, int]:
        """``(points, max_points)`` over the questions."""
        return sum(q.points for q in self.questions), sum(q.max_points for q in self.questions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``tinycnn exercises check --json``."""
        return {
            "exercise": self.exercise,
            "path": str(self.path),
            "status": self.status,
            "checks_passed": len(self.passed),
            "checks": self.total,
            "failed_check": self.failed_check,
            "message": self.message,
            "hint": self.hint,
            "questions": [q.to_dict() for q in self.questions],
            "hints_opened": self.hints_opened,
        }

    def __str__(self) -> str:
        lines = [f"{self.exercise} ({self.path})"]
        lines += [f"  ok    {name}" for name in self.passed]
        if self.status == "not started":
            lines.append(f"  not started: {self.message}")
        elif self.failed_check is not None:
            lines.append(f"  FAIL  {self.failed_check}")
            lines += [f"        {line}" for line in self.message.splitlines()]
            if self.hint:
                lines.append(f"        hint: {self.hint}")
        lines += self._question_lines()
        verdict = {
            "passed": f"passed all {self.total} checks",
            "failed": f'FAILED at "{self.failed_check}" ({len(self.passed)} of {self.total} '
            "checks passed)",
            "not started": "not started",
        }[self.status]
        lines.append(f"{self.exercise}: {verdict}")
        return "\n".join(lines)

    def _question_lines(self) -> list[str]:
        lines = []
        if self.questions:
            points, most = self.question_points
            lines.append(f"  questions: {points} of {most} points")
        for q in self.questions:
            mark = "ok   " if q.ok else "--   " if q.message == "not answered" else "WRONG"
            lines.append(f"    {mark} {q.key} [{q.points}/{q.max_points}]: {q.message}")
        if self.hints_opened:
            lines.append(f"  hints opened: {self.hints_opened} of 3 (no penalty)")
        return lines


def grade(
    exercise: Exercise, folder: Path, progress: Callable[[str], None] | None = None
) -> Report:
    """Run ``exercise``'s checks on ``folder/<name>.py`` in order, stopping at the first failure.

    ``progress(line)`` receives what a long check reports while it runs (the capstone's
    training).
    """
    path = exercise.student_path(folder)
    report = Report(exercise.name, path, "passed", [], total=len(exercise.checks))
    current = "loading the file"
    try:
        student = Student(path, exercise.functions, progress)
        for check in exercise.checks:
            current = check.name
            check.run(student)
            report.passed.append(check.name)
    except NotStartedError as reason:
        report.status, report.passed, report.message = "not started", [], str(reason)
    except CheckError as failure:
        report.status, report.failed_check = "failed", current
        report.message, report.hint = failure.message, failure.hint
    except StudentError as error:
        report.status, report.failed_check = "failed", current
        report.message = f"your code raised an error:\n{error.text}"
    report.questions = _grade_questions(exercise, path)
    report.hints_opened = hints_opened(folder, exercise.name)
    return report


def _grade_questions(exercise: Exercise, path: Path) -> list[QuestionResult]:
    """The questions marked from the file's text (never run for this), or none if it is missing."""
    if not exercise.questions or not path.is_file():
        return []
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        source = f"<unreadable: {error}>"
    return grade_questions(exercise.questions, source)
