"""Exercises a student fills in and tinycnn grades, each in a process of its own.

``tinycnn exercises start NAME DIR`` writes ``DIR/NAME.py`` (or, with ``--notebook``,
``NAME.ipynb``): the signature, a docstring with the math and every shape, and
``raise NotImplementedError(...)`` where the answer goes. ``tinycnn exercises check NAME DIR``
grades it: the file is read here, then loaded in a fresh child process with time and memory
limits, and the exercise's checks run in order, stopping at the first failure (``engine``,
``sandbox``). From Python: ``start(name, folder)`` and ``check(name, folder)``, which returns a
``Report``; ``check_all`` grades many folders, several at a time.

One file per exercise
---------------------
Each exercise is one file ``NN_<name>.py`` of a *pack* (``packs``): the built-in pack is the
folder ``builtin.pack`` of this package (not importable: its name holds a dot), a teacher's is
any folder given with ``--exercises DIR``. ``NN`` (with an optional letter: ``00a``) gives the
order a course teaches them in.
The file *is* the handout:

1. the module docstring, imports and function signatures the student gets, each answer between
   ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers; ``handout`` makes the
   student's file with nbgrader's transform, so a teacher may also use nbgrader itself);
2. a line ``### QUESTIONS``, which the handout replaces by the ``ANSWERS = {...}`` dictionary the
   student fills in (``questions.answers_block``; the teacher's copy has the answers);
3. between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (deleted from every handout):
   the checks, the questions, the hint ladder, and ``EXERCISE = Exercise(name, topic,
   functions, checks, ..., questions=..., hints=...)``, written with the authoring API of
   ``tinycnn.teach.exercises.grading`` only (``docs/guides/teaching.md`` has a template pack).

To add one to the built-in pack (say a LayerNormalization exercise): copy the closest file
(``14_batchnorm.py`` for a layer with parameters) to ``15_layernorm.py``, write the handout
part and the reference answer, then the checks with ``grading.compare`` and its fingerprints of
common mistakes (``grading.against_reference`` for hypothesis-drawn cases,
``grading.gradients_match`` for a gradient check). Then add at least three planted bugs to
``MUTANTS`` in ``tests/teach/test_exercises.py``: the test checks that the reference passes,
the stub is "not started", and every mutant fails with the check and hint it names. Nothing
else is registered.
"""

from __future__ import annotations

import atexit
import multiprocessing.util
import os
import re
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import cache
from pathlib import Path

from tinycnn.teach.exercises.engine import BadInputError, Report, grade
from tinycnn.teach.exercises.grading import Exercise
from tinycnn.teach.exercises.handout import clear_solutions, solution_text
from tinycnn.teach.exercises.packs import BUILTIN, load_pack
from tinycnn.teach.exercises.questions import answers_block
from tinycnn.teach.exercises.sandbox import Limits, Sandbox

__all__ = [
    "BadInputError",
    "Report",
    "check",
    "check_all",
    "exercises",
    "get_exercise",
    "start",
    "status",
]

NAME = re.compile(r"[A-Za-z_]\w*")


def exercises(pack: str | Path | None = None) -> list[Exercise]:
    """Every exercise in course order: the built-in ones, then ``pack``'s (a folder of
    ``NN_name.py`` files; one named like a built-in exercise replaces it)."""
    found = list(load_pack(BUILTIN))
    if pack is not None:
        for exercise in load_pack(pack):
            names = [e.name for e in found]
            if exercise.name in names:
                found[names.index(exercise.name)] = exercise
            else:
                found.append(exercise)
    return found


def get_exercise(name: str, pack: str | Path | None = None) -> Exercise:
    """The exercise called ``name``; ValueError listing the names otherwise."""
    if not NAME.fullmatch(name):
        raise ValueError(f"expected an exercise name (letters, digits, _), got {name!r}")
    for exercise in exercises(pack):
        if exercise.name == name:
            return exercise
    names = ", ".join(e.name for e in exercises(pack))
    raise ValueError(f"no exercise called {name!r}; expected one of: {names}")


def handout(name: str, solution: bool = False, pack: str | Path | None = None) -> str:
    """The text of the student's file (or, with ``solution``, the teacher's)."""
    exercise = get_exercise(name, pack)
    text = exercise.source.read_text(encoding="utf-8")
    if exercise.questions:  # the ANSWERS dictionary the student fills in, at ``### QUESTIONS``
        block = answers_block(exercise.questions, solved=solution)  # type: ignore[arg-type]
        text = re.sub(r"^### QUESTIONS$", lambda _: block, text, count=1, flags=re.MULTILINE)
    if solution:
        return solution_text(text).rstrip() + "\n"
    stub = (
        "# YOUR CODE HERE\n"
        f'raise NotImplementedError("exercise {name}: not started; replace this line")'
    )
    return clear_solutions(text, stub).rstrip() + "\n"


def start(
    name: str,
    folder: str | Path = ".",
    solution: bool = False,
    force: bool = False,
    notebook: bool = False,
    pack: str | Path | None = None,
) -> Path:
    """Write the student's file ``folder/<name>.py`` (or ``.ipynb``) and return its path.

    Parameters
    ----------
    name : str
        An exercise name (``tinycnn exercises list``).
    folder : str or PathLike
        Made if missing.
    solution : bool
        Write the reference answer instead (for teachers), nbgrader's markers kept.
    force : bool
        Replace an existing file (otherwise ``FileExistsError``: a student's work is never
        overwritten by accident). A symbolic link is never followed: with ``force`` the link
        itself is replaced.
    notebook : bool
        Write a Jupyter notebook (``jupytext``, the ``notebooks`` extra) instead of a ``.py``.
    pack : str or PathLike, optional
        A teacher's pack folder (``--exercises``).
    """
    text = handout(name, solution, pack)
    path = Path(folder) / f"{name}{'.ipynb' if notebook else '.py'}"
    if notebook:
        from tinycnn.teach.exercises.notebook import to_notebook

        text = to_notebook(text, name)
    if (path.exists() or path.is_symlink()) and not force:
        what = "a symbolic link" if path.is_symlink() else "a file"
        raise FileExistsError(f"{path} exists ({what}); pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(path, text)
    return path


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to a new file in ``path``'s folder, then rename it onto ``path`` (atomic;
    a link at ``path`` is replaced, never followed)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_sandbox: Sandbox | None = None


def _default_sandbox() -> Sandbox:
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox()
        atexit.register(_sandbox.close)
    return _sandbox


def check(
    name: str,
    folder: str | Path = ".",
    pack: str | Path | None = None,
    timeout: float | None = None,
    limits: Limits | None = None,
) -> Report:
    """Grade ``folder/<name>.py`` in a child process; ``str(report)`` is the feedback."""
    return check_all([name], [folder], pack, timeout, limits, jobs=1)[0]


def check_all(
    names: Sequence[str],
    folders: Sequence[str | Path],
    pack: str | Path | None = None,
    timeout: float | None = None,
    limits: Limits | None = None,
    jobs: int = 1,
    progress=None,
) -> list[Report]:
    """Grade every exercise of ``names`` in every folder; reports in folder-major order.

    With ``jobs > 1`` the grading runs in ``jobs`` worker processes of the grader's own (each
    with its fork server; hypothesis and CPython 3.11's ``ast`` are not safe in threads). Only
    text crosses between them: the task's names in, the report as JSON out. The exercises with
    the longest time limit (the capstone, which trains) are handed out first, so that the jobs
    end together on short ones. ``progress(report)`` is called here as each one ends.
    """
    tasks = [(name, str(folder)) for folder in folders for name in names]
    limit = {name: get_exercise(name, pack).timeout for name in names}  # a bad name fails here
    settings = (None if pack is None else str(pack), timeout, limits or Limits())
    if jobs <= 1:
        reports = []
        for task in tasks:
            reports.append(_grade_task(task, settings, _default_sandbox()))
            if progress is not None:
                progress(reports[-1])
        return reports
    longest_first = sorted(range(len(tasks)), key=lambda i: -limit[tasks[i][0]])  # stable
    with ProcessPoolExecutor(jobs, initializer=_start_worker) as pool:
        submitted = {i: pool.submit(_grade_in_worker, tasks[i], settings) for i in longest_first}
        futures = [submitted[i] for i in range(len(tasks))]
        by_future = {}
        for future in as_completed(futures):
            by_future[future] = Report.from_json(future.result())
            if progress is not None:
                progress(by_future[future])
        return [by_future[future] for future in futures]


_worker_sandbox: Sandbox | None = None


def _start_worker() -> None:
    global _worker_sandbox, _sandbox
    _sandbox = None  # the parent's fork server is not this process's to use
    _worker_sandbox = Sandbox()
    # stopped (and waited for) when the worker ends, so its CPU time counts as the worker's
    multiprocessing.util.Finalize(_worker_sandbox, _worker_sandbox.close, exitpriority=1)


def _grade_in_worker(task: tuple[str, str], settings: tuple) -> str:
    assert _worker_sandbox is not None
    return _grade_task(task, settings, _worker_sandbox).to_json()


@cache
def _handouts(pack: str | None) -> dict[str, str]:
    return {e.name: handout(e.name, pack=pack) for e in exercises(pack)}


def _grade_task(task: tuple[str, str], settings: tuple, sandbox: Sandbox) -> Report:
    """One (exercise, folder); a bug of ours becomes an "error" report, not a stopped batch."""
    (name, folder), (pack, timeout, limits) = task, settings
    exercise = get_exercise(name, pack)
    try:
        return grade(exercise, Path(folder), sandbox, _handouts(pack), timeout, limits)
    except Exception as error:  # the batch goes on
        report = Report(name, exercise.student_path(Path(folder)), "error")
        report.message = (
            f"{report.path}: tinycnn's grader failed ({type(error).__name__}: {error}); "
            "please report it"
        )
        return report


def status(exercise: Exercise, folder: str | Path) -> str:
    """Where a student stands, without grading (for ``list``).

    ``"missing"`` (no file), ``"not started"`` (the handout untouched), ``"in progress"`` (edited,
    a ``NotImplementedError`` left) or ``"written"`` (run ``check`` for the verdict).
    """
    path = exercise.student_path(Path(folder))
    if not path.is_file():
        return "missing"
    text = path.read_text(encoding="utf-8", errors="replace")
    if text == handout(exercise.name, pack=exercise.source.parent):
        return "not started"
    return "in progress" if "NotImplementedError" in text else "written"
