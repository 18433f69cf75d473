"""Notebook handouts: the student's file as a Jupyter notebook, nbgrader's cell metadata set.

``to_notebook`` cuts a handout (``.py`` text) into cells: the module docstring becomes a
Markdown cell, the imports one code cell, and each top-level function or class its own cell.
A cell that holds an answer region (``### BEGIN SOLUTION``, teacher's version) or the stub that
replaced it is marked as nbgrader marks solution cells (``nbgrader: {solution: true, grade:
false, locked: false, grade_id, schema_version: 3}``), so ``nbgrader generate_assignment``
accepts the teacher's notebook and clears the answers itself. jupytext (the ``notebooks``
extra) writes the notebook from ``py:percent`` text.

Grading reads a notebook back with ``engine.notebook_code``: its code cells, in order.
"""

from __future__ import annotations

import ast

__all__ = ["to_notebook"]

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "# YOUR CODE HERE")


def _cells(text: str) -> list[tuple[str, str]]:
    """``(kind, source)`` cells of a handout: ``markdown`` for the docstring, else ``code``."""
    lines = text.splitlines()
    tree = ast.parse(text)
    cells: list[tuple[str, str]] = []
    body = list(tree.body)
    start = 0
    docstring = ast.get_docstring(tree, clean=True)
    if docstring is not None:
        cells.append(("markdown", docstring))
        start = body.pop(0).end_lineno or 0
    cuts = [
        min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        for node in body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    for first, last in zip([start, *cuts], [*cuts, len(lines)], strict=True):
        source = "\n".join(lines[first:last]).strip("\n")
        if source.strip():
            cells.append(("code", source))
    return cells


def to_notebook(text: str, name: str) -> str:
    """The notebook (``.ipynb`` JSON text) of the handout ``text`` of exercise ``name``."""
    import jupytext

    percent = []
    for kind, source in _cells(text):
        if kind == "markdown":
            percent.append(
                "# %% [markdown]\n"
                + "\n".join(f"# {line}".rstrip() for line in source.splitlines())
            )
        else:
            percent.append(f"# %%\n{source}")
    notebook = jupytext.reads("\n\n".join(percent) + "\n", fmt="py:percent")
    number = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and any(m in cell.source for m in SOLUTION_MARKERS):
            number += 1
            cell.metadata["nbgrader"] = {
                "grade": False,
                "grade_id": f"{name}_{number}",
                "locked": False,
                "schema_version": 3,
                "solution": True,
            }
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return jupytext.writes(notebook, fmt="ipynb")
