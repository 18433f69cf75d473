"""No borrowed answers: which imports of tinycnn a student's file may make.

A student's file may import from tinycnn exactly what its handout imports (``im2col``'s handout
imports ``output_hw`` and ``pad_input`` from ``tinycnn.kernels.im2col``; ``conv2d_forward``'s
imports ``im2col`` itself): nothing else, and in particular not the function it must write, nor
any reference answer. The parent reads the file with ``ast`` before anything runs
(``borrowed_imports``); the child refuses the same imports when they happen (``child.py``), for
the ones hidden from ``ast`` (inside an ``exec``).

The scan also refuses the ways around a static list: ``__import__(...)``, ``importlib`` and
``sys.modules``. What it cannot see is code that reaches library functions through objects it was
allowed to import (``pad_input.__globals__``): the teaching guide says so.
"""

from __future__ import annotations

import ast
import functools

__all__ = ["allowed_imports", "borrowed_imports"]

DYNAMIC = {"__import__", "importlib", "import_module"}


def _is_tinycnn(module: str | None) -> bool:
    return module is not None and (module == "tinycnn" or module.startswith("tinycnn."))


def allowed_imports(handout: str) -> dict[str, list[str]]:
    """``{module: [names]}`` of tinycnn the handout text imports (``[]``: the module itself)."""
    return {module: list(names) for module, names in _allowed(handout)}


@functools.lru_cache(maxsize=64)  # a handout is read for every folder of a class
def _allowed(handout: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    allowed: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(handout)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_tinycnn(node.module):
            allowed.setdefault(str(node.module), []).extend(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_tinycnn(alias.name):
                    allowed.setdefault(alias.name, [])
    return tuple((module, tuple(names)) for module, names in allowed.items())


def borrowed_imports(source: str, allowed: dict[str, list[str]], filename: str) -> list[str]:
    """One line per import of tinycnn in ``source`` that ``allowed`` does not list."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return []  # the child reports the syntax error with the student's line
    own = "; ".join(f"{', '.join(n) or m} from {m}" for m, n in allowed.items())
    rest = "write your own (" + (
        f"this exercise's file may import only {own})" if own else "import nothing from tinycnn)"
    )
    problems = []
    for node in ast.walk(tree):
        where = f"{filename} line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"{where}: a relative import (from {'.' * node.level}...)")
            elif _is_tinycnn(node.module):
                own_names = allowed.get(str(node.module), [])
                extra = [a.name for a in node.names if a.name not in own_names]
                if extra or str(node.module) not in allowed:
                    names = ", ".join(extra or [a.name for a in node.names])
                    problems.append(f"{where} imports {names} from {node.module}: {rest}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_tinycnn(alias.name) and alias.name not in allowed:
                    problems.append(f"{where} imports {alias.name}: {rest}")
                elif alias.name == "importlib" or alias.name.startswith("importlib."):
                    problems.append(f"{where} imports importlib: use plain import lines")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC:
            problems.append(f"{where} uses {node.id}: use plain import lines")
        elif isinstance(node, ast.Attribute) and node.attr == "modules":
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                problems.append(f"{where} uses sys.modules: use plain import lines")
    return problems
