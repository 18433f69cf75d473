"""Exercise packs: folders of exercise files, loaded by path (never importable).

A pack is a folder holding one file per exercise, ``NN_name.py`` (``NN``: the order a course
teaches them in), and any helper files (names not starting with two digits and ``_``). An
exercise file is the handout and its checks (see ``tinycnn.teach.exercises``); it ends with
``EXERCISE = Exercise(...)`` from ``tinycnn.teach.exercises.grading``, the only tinycnn module
it needs. A helper file is reached from an exercise file with ``grading.sibling("name")``.

The built-in exercises are the pack ``builtin.pack`` inside this package: a folder whose name
holds a dot, so no ``import`` statement can reach its files (``import a.b.c`` reads dots as
package separators). A teacher's pack is any other folder: ``tinycnn exercises ... --exercises
DIR`` lists, starts and checks its exercises with the built-in ones (one of the same name
replaces the built-in one).
"""

from __future__ import annotations

import contextvars
import itertools
import re
from pathlib import Path
from types import ModuleType

from tinycnn.teach.exercises.grading import Exercise

__all__ = ["BUILTIN", "load_helper", "load_pack"]

BUILTIN = Path(__file__).with_name("builtin.pack")
EXERCISE_FILE = re.compile(r"(\d\d[a-z]?)_([A-Za-z_]\w*)\.py$")

_loading: contextvars.ContextVar[Path] = contextvars.ContextVar("pack being loaded")
_helpers: dict[Path, ModuleType] = {}
_packs: dict[tuple[Path, tuple], list[Exercise]] = {}
_counter = itertools.count()


def _exec(path: Path, kind: str) -> ModuleType:
    """Run the file at ``path`` as a fresh module (its own name; importable by no one)."""
    module = ModuleType(f"_tinycnn_{kind}_{next(_counter)}_{path.stem}")
    module.__file__ = str(path)
    token = _loading.set(path.parent)
    try:
        code = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    finally:
        _loading.reset(token)
    return module


def load_helper(name: str) -> ModuleType:
    """The helper ``name.py`` of the pack whose exercise file is being loaded."""
    try:
        folder = _loading.get()
    except LookupError:
        raise RuntimeError("sibling() works only while an exercise file is loaded") from None
    path = (folder / f"{name}.py").resolve()
    if not re.fullmatch(r"[A-Za-z_]\w*", name) or not path.is_file():
        raise ValueError(f"expected a helper file {name}.py in the pack {folder}")
    if path not in _helpers:
        _helpers[path] = _exec(path, "helper")
    return _helpers[path]


def load_pack(folder: str | Path) -> list[Exercise]:
    """The exercises of the pack in ``folder``, in ``NN`` order (cached while no file changes).

    Raises
    ------
    ValueError
        If ``folder`` is not a folder, holds no exercise file, or a file defines no
        ``EXERCISE``, naming the file.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ValueError(f"expected a folder of exercise files (NN_name.py), got {folder}")
    files = sorted(p for p in folder.iterdir() if EXERCISE_FILE.match(p.name))
    if not files:
        raise ValueError(f"expected exercise files NN_name.py in {folder}, found none")
    key = (folder, tuple((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.py")))
    if key not in _packs:
        _packs[key] = [_load_exercise(path) for path in files]
    return _packs[key]


def _load_exercise(path: Path) -> Exercise:
    module = _exec(path, "exercise")
    exercise = getattr(module, "EXERCISE", None)
    if not isinstance(exercise, Exercise):
        raise ValueError(f"{path} must define EXERCISE = Exercise(...), got {exercise!r}")
    stem = EXERCISE_FILE.match(path.name).group(2)  # type: ignore[union-attr]
    if exercise.name != stem:
        raise ValueError(f"{path} defines the exercise {exercise.name!r}; expected {stem!r}")
    return Exercise(**{**vars(exercise), "source": path})
