"""The authoring API of an exercise: checks, comparisons with hints, points.

An exercise file (a pack's ``NN_name.py``, see ``tinycnn.teach.exercises.packs``) ends with
``EXERCISE = Exercise(name, topic, functions, checks, ...)``. A check is a function
``check(student)`` that returns when the student's code is right and raises
``CheckError(message, hint, credit)`` when it is not; ``Check(name, run, points)`` gives it a
name and its points. The engine (``engine.grade``) runs the checks in order and stops at the first
failure, in the order ``docs/guides/teaching.md`` describes: shapes and dtypes, a worked
example, properties, the reference on hypothesis-drawn configurations, a float64 gradient
check, edge cases.

``student`` is a proxy to the child process that holds the student's file (``sandbox``): its
``call`` sends the inputs there and returns the outputs, so every comparison, hint and verdict is
made here, in the parent, where the student's code cannot reach. What can cross: arrays (not of
Python objects), NumPy scalars, numbers, strings, None, tuples, lists, dicts, NumPy generators
and functions (callbacks: the student's code calls them and they run here). Anything else the
student's code returns arrives as an ``Unreadable``. What the student sees:

- a stub (any ``NotImplementedError``) or a missing file: "not started", never "failed";
- an exception in the student's code: the frames of the student's own file and the error, no
  library internals (``StudentError``);
- a wrong answer: which check failed, the (smallest, for drawn cases) failing input, expected
  against got with the positions that differ, and a hint when the answer matches the output of
  a known mistake on that input (its *fingerprint*, see ``compare``);
- code that does not return (a loop, an exit, a signal, out of memory): the check fails with
  one line saying so (``ChildGoneError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings

from tinycnn.layers.base import Layer
from tinycnn.teach.exercises.drawn import find_smallest
from tinycnn.teach.exercises.hints import HintLadder, plotted
from tinycnn.teach.exercises.questions import Question
from tinycnn.teach.exercises.sandbox import ChildGoneError, Session
from tinycnn.teach.exercises.wire import Unreadable
from tinycnn.testing.gradcheck import gradcheck

__all__ = [
    "Check",
    "CheckError",
    "CheckResult",
    "ChildGoneError",
    "Exercise",
    "FunctionLayer",
    "PROGRESS",
    "HintLadder",
    "NotStartedError",
    "Question",
    "Student",
    "StudentError",
    "Unreadable",
    "against_reference",
    "compare",
    "expect_array",
    "expect_tuple",
    "gradients_match",
    "plotted",
    "sibling",
    "smallest_failing_case",
]

Mistake = tuple[Callable[[], Any], str]  # (what the mistake would output, the hint)


class CheckError(Exception):
    """A check failed: ``message`` says what and how; ``hint`` names the likely mistake;
    ``credit`` (0 to 1) is the fraction of the check's points still given."""

    def __init__(self, message: str, hint: str | None = None, credit: float = 0.0) -> None:
        super().__init__(message)
        if not 0.0 <= credit <= 1.0:
            raise ValueError(f"credit must be between 0 and 1, got {credit}")
        self.message, self.hint, self.credit = message, hint, credit


class NotStartedError(Exception):
    """The student's file is missing or a function still raises ``NotImplementedError``."""


class StudentError(Exception):
    """The student's code raised; ``text`` is the traceback cut to the student's own file."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def sibling(name: str) -> ModuleType:
    """The helper module ``name`` of the pack being loaded (``<pack>/<name>.py``, by path).

    For an exercise file's hidden tests: ``reference = sibling("reference")``.
    """
    from tinycnn.teach.exercises.packs import load_helper

    return load_helper(name)


def describe(value: Any) -> str:
    """``"a tuple"``, ``"an ndarray"``: what a value is, for messages."""
    name = value.type_name if isinstance(value, Unreadable) else type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


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
        if ``got`` matches one, its hint is attached to the failure. They are made only when
        ``got`` is wrong (some are costly).
    rtol, atol : float
        ``np.isclose`` tolerances.
    note : str, optional
        Added to the message when no fingerprint matches: what the check can say for sure.
    """
    try:
        _compare(what, np.asarray(expected), got, mistakes, rtol, atol)
    except CheckError as failure:
        if failure.hint is None and note:
            raise CheckError(f"{failure.message}\n{note}") from None
        raise


def _compare(what, expected, got, mistakes, rtol, atol) -> None:
    if not isinstance(got, (np.ndarray, float, int, np.floating)):
        raise CheckError(f"{what}: expected an ndarray, got {describe(got)}")
    got = np.asarray(got)
    if got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol):
        return
    hint = _matching_hint(got, mistakes, rtol, atol)
    if got.shape != expected.shape:
        raise CheckError(f"{what}: expected shape {expected.shape}, got {got.shape}", hint)
    if expected.ndim == 0:
        raise CheckError(f"{what}: expected {float(expected):.8g}, got {float(got):.8g}", hint)
    raise CheckError(f"{what}: expected vs got\n{_positions(expected, got, rtol, atol)}", hint)


def expect_tuple(got: Any, function: str, names: Sequence[str]) -> tuple:
    """``got`` if it is a tuple of ``len(names)`` values; else ``CheckError`` naming them."""
    if not isinstance(got, tuple) or len(got) != len(names):
        raise CheckError(
            f"{function} should return a tuple ({', '.join(names)}), got {describe(got)}"
        )
    return got


def expect_array(
    got: Any, what: str, shape: tuple, dtype: Any = None, where: str = "", hint: str | None = None
) -> np.ndarray:
    """``got`` if it is an ndarray of ``shape`` (and of ``dtype``, when given); else
    ``CheckError`` saying where (the input, e.g. ``"x (2, 6, 5, 3), 'valid'"``), what was
    expected and what came, with ``hint`` if one is known for this wrong answer."""
    is_array = isinstance(got, np.ndarray)
    if is_array and got.shape == tuple(shape) and (dtype is None or got.dtype == dtype):
        return got
    kind = "an ndarray" if dtype is None else f"a {np.dtype(dtype)} ndarray"
    came = f"{got.dtype} of shape {got.shape}" if is_array else describe(got)
    prefix = f"{where}: " if where else ""
    raise CheckError(f"{prefix}{what} should be {kind} of shape {tuple(shape)}, got {came}", hint)


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
    example database and no deadline (the first call may compile Numba kernels). The cases
    drawn for a right answer are drawn once per process and replayed (``drawn``).
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
    return find_smallest(strategy, fails, search, check_case)


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


def gradients_match(
    forward: Callable, backward: Callable, params: dict[str, np.ndarray], x: Any, where: str
) -> None:
    """A float64 gradient check of the student's ``backward`` (``FunctionLayer``, then
    ``tinycnn.testing.gradcheck``); ``CheckError`` naming ``where`` (the input) and the result
    when any gradient is off."""
    result = gradcheck(FunctionLayer(forward, backward, params), x)
    if not result.ok:
        raise CheckError(f"{where}:\n{result}")


@dataclass(frozen=True)
class Check:
    """One grading step worth ``points``: ``run(student)`` raises ``CheckError`` when wrong."""

    name: str
    run: Callable[[Student], None]
    points: float = 1.0


@dataclass(frozen=True)
class Exercise:
    """An exercise: what the student writes and how it is graded.

    Parameters
    ----------
    name, topic : str
        ``name`` is the student's file name (``name.py``); letters, digits and ``_`` only.
    functions : tuple of str
        The functions the student's file must define.
    checks : tuple of Check
        In grading order; grading stops at the first failure.
    timeout : float
        Wall-clock seconds the student's code may run within ONE check (``--timeout``
        overrides it).
    hints : object or None
        The exercise's hint ladder (three levels, ``tinycnn exercises hint``).
    questions : sequence
        Graded questions answered in the student's file (read with ``ast``, never run).
    uses : tuple of str
        Other exercises whose files, from the same folder, the child loads too (the capstone).
    harness : str or None
        A helper file of the pack (``<pack>/<harness>``) loaded in the CHILD, whose functions
        ``student.harness(name, ...)`` calls there as ``name(load, ...)``; ``load(exercise)`` is
        the student's module of that exercise. For checks too slow as calls from the parent.
    source : Path
        The exercise file (set by the pack loader).
    """

    name: str
    topic: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    timeout: float = 60.0
    hints: HintLadder | None = None
    questions: Sequence[Question] = ()
    uses: tuple[str, ...] = ()
    harness: str | None = None
    source: Path = field(default=Path())

    @property
    def max_points(self) -> float:
        """Points for every check (questions add theirs)."""
        return float(sum(check.points for check in self.checks))

    def student_path(self, folder: Path) -> Path:
        """Where the student's file for this exercise lives in ``folder`` (``.py``)."""
        return Path(folder) / f"{self.name}.py"


@dataclass
class CheckResult:
    """One check's outcome: points of ``max_points``, and what the student reads."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str = ""
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field."""
        return asdict(self)


PROGRESS: ContextVar[Callable[[str], None] | None] = ContextVar("progress lines", default=None)
"""Where ``Student.progress`` lines go (the CLI prints them); unset, they are dropped."""


class Student:
    """The student's file, loaded in a child process; its functions are called there.

    ``call`` gives the child copies of the arguments; ``call_shared`` also writes the child's
    changes to array and generator arguments back into the caller's own (after the call and
    before each callback: in-place protocols); ``harness`` calls a function of the exercise's
    harness file in the child. Each call may use what is left of the check's time.
    """

    def __init__(self, session: Session, path: Path) -> None:
        self.session, self.path = session, path
        self.seconds = self.limit = 60.0

    def begin_check(self, seconds: float) -> None:
        """A new check: ``seconds`` of the student's code's time."""
        self.seconds = self.limit = seconds

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``name(*args, **kwargs)`` from the student's file, on copies of the arguments."""
        return self._call(name, args, kwargs)

    def call_shared(self, name: str, *args: Any) -> Any:
        """``name(*args)``, the child's changes to array arguments copied back into ``args``."""
        return self._call(name, args, {}, shared=True)

    def progress(self, line: str) -> None:
        """Show ``line`` while a long check runs (the capstone's training), if asked to."""
        show = PROGRESS.get()
        if show is not None:
            show(line)

    def harness(self, name: str, *args: Any) -> Any:
        """``name(load, *args)`` of the exercise's harness file, run in the child."""
        return self._call(name, args, {}, harness=True)

    def _call(self, name, args, kwargs, shared=False, harness=False) -> Any:
        if self.seconds <= 0:
            raise ChildGoneError("TIMEOUT")
        sync = (lambda after: _copy_back(args, after)) if shared else None
        reply, used = self.session.call(name, args, kwargs, self.seconds, shared, harness, sync)
        self.seconds -= used
        if reply["op"] == "return":
            if sync is not None:
                sync(reply["shared"])
            return reply["value"]
        raise _failure(reply, name, self.session.limits.memory_mb)


def _copy_back(args: tuple, after: list) -> None:
    for mine, theirs in zip(args, after, strict=False):
        if isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray):
            if mine.shape == theirs.shape and mine.flags.writeable:
                np.copyto(mine, theirs, casting="unsafe")
        elif isinstance(mine, np.random.Generator) and isinstance(theirs, np.random.Generator):
            mine.bit_generator.state = theirs.bit_generator.state


def _failure(reply: dict, name: str, memory_mb: int) -> Exception:
    """The exception for a call that did not return."""
    op = reply["op"]
    if op == "not_started":
        return NotStartedError(
            f"{name} still raises NotImplementedError: write your answer in its place"
        )
    if op == "raised" and reply["kind"] == "exception":
        return StudentError(reply["text"])
    if op == "raised":
        what = {
            "memory": f"ran out of memory (the limit is {memory_mb} MB)",
            "interrupt": "raised KeyboardInterrupt",
        }
        return ChildGoneError(f"your code {what[reply['kind']]}")
    if op == "exit":
        return ChildGoneError(f"your code exited with status {reply['code']} before returning")
    if op == "borrowed":
        return ChildGoneError(f"your code {reply['text']}")
    return ChildGoneError(f"your code's process sent {op!r} instead of an answer")
