"""Exercises a student fills in and tinycnn grades.

``tinycnn exercises start NAME DIR`` writes ``DIR/NAME.py``: the signature, a docstring with the
math and every shape, and ``raise NotImplementedError(...)`` where the answer goes.
``tinycnn exercises check NAME DIR`` imports that file by path and runs the exercise's checks in
order, stopping at the first failure (``grading``). From Python: ``start(name, folder)`` and
``check(name, folder)``, which returns a ``Report``.

One file per exercise
---------------------
Each exercise is one module ``exNN_<name>.py`` in this package; ``NN`` gives the order a course
teaches them in. The file *is* the handout:

1. the module docstring, imports and function signatures the student gets, each answer between
   ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers; ``handout`` makes the
   student's file with nbgrader's transform, so a teacher may also use nbgrader itself);
2. between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (deleted from every handout):
   the checks, and ``EXERCISE = Exercise(name, topic, functions, checks)``.

To add one (say a BatchNormalization exercise): copy the closest file (``ex10_dense_backward.py``
for a layer with parameters) to ``ex14_batchnorm.py``, write the handout part and the reference
answer, then the checks with ``grading.compare`` and its fingerprints of common mistakes
(``grading.against_reference`` for hypothesis-drawn cases, ``grading.FunctionLayer`` for a
gradient check). Then add at least three planted bugs to ``MUTANTS`` in
``tests/teach/test_exercises.py``: the test checks that the reference passes, the stub is "not
started", and every mutant fails with the check and hint it names. Nothing else is registered.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from tinycnn.teach.exercises.grading import Exercise, Report, grade
from tinycnn.teach.exercises.handout import clear_solutions, solution_text

__all__ = ["Report", "check", "exercises", "get_exercise", "start", "status"]

_MODULE = re.compile(r"ex(\d\d)_(\w+)$")


def exercises() -> list[Exercise]:
    """Every exercise, in course order (the ``NN`` of its ``exNN_name.py``)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if _MODULE.match(info.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            source = Path(str(module.__file__))
            found.append((info.name, Exercise(**{**vars(module.EXERCISE), "source": source})))
    return [exercise for _, exercise in sorted(found, key=lambda item: item[0])]


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ValueError listing the names otherwise."""
    for exercise in exercises():
        if exercise.name == name:
            return exercise
    names = ", ".join(e.name for e in exercises())
    raise ValueError(f"no exercise called {name!r}; expected one of: {names}")


def handout(name: str, solution: bool = False) -> str:
    """The text of the student's file (or, with ``solution``, the teacher's)."""
    exercise = get_exercise(name)
    text = exercise.source.read_text(encoding="utf-8")
    if solution:
        return solution_text(text).rstrip() + "\n"
    stub = (
        "# YOUR CODE HERE\n"
        f'raise NotImplementedError("exercise {name}: not started; replace this line")'
    )
    return clear_solutions(text, stub).rstrip() + "\n"


def start(name: str, folder: str | Path = ".", solution: bool = False, force=False) -> Path:
    """Write the student's file ``folder/<name>.py`` and return its path.

    Parameters
    ----------
    name : str
        An exercise name (``tinycnn exercises list``).
    folder : str or PathLike
        Made if missing.
    solution : bool
        Write the reference answer instead (for teachers).
    force : bool
        Overwrite an existing file (otherwise ``FileExistsError``: a student's work is never
        overwritten by accident).
    """
    path = get_exercise(name).student_path(Path(folder))
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(handout(name, solution), encoding="utf-8")
    return path


def check(name: str, folder: str | Path = ".") -> Report:
    """Grade ``folder/<name>.py``; ``str(report)`` is the feedback, ``report.ok`` the verdict."""
    return grade(get_exercise(name), Path(folder))


def status(exercise: Exercise, folder: str | Path) -> str:
    """Where a student stands, without grading (for ``list``).

    ``"missing"`` (no file), ``"not started"`` (the handout untouched), ``"in progress"`` (edited,
    a ``NotImplementedError`` left) or ``"written"`` (run ``check`` for the verdict).
    """
    path = exercise.student_path(Path(folder))
    if not path.is_file():
        return "missing"
    text = path.read_text(encoding="utf-8")
    if text == handout(exercise.name):
        return "not started"
    return "in progress" if "NotImplementedError" in text else "written"
