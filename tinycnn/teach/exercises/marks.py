"""Marks a course can use: JSON, CSV, Gradescope's ``results.json`` and Markdown feedback.

Every format is made from the same ``Report`` objects, so the totals agree: a report's points
are the sum of its checks' (and questions') points, partial credit included.

- ``document``: the JSON of ``tinycnn exercises check --json`` (every result, per-folder totals);
- ``write_csv``: a row per folder, a column of points per exercise, then the total and the
  maximum (opens in any spreadsheet, uploads to an LMS);
- ``gradescope``: Gradescope's autograder results (``score``, ``execution_time``, ``output``,
  and ``tests``: one per check with ``name``, ``score``, ``max_score``, ``status``, ``output``,
  ``visibility``), https://gradescope-autograders.readthedocs.io/en/latest/specs/;
- ``feedback``: one Markdown page per folder: the marks, then every failing check with its
  message (the smallest failing case included) and hint.

Files are written atomically (a temporary file in the same folder, then renamed).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinycnn.teach.exercises.engine import NOT_RUN, Report

__all__ = ["document", "feedback", "gradescope", "totals", "write_atomic", "write_csv"]


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _folder(report: Report) -> str:
    return str(report.path.parent)


def totals(reports: Sequence[Report]) -> dict[str, tuple[float, float]]:
    """``{folder: (points, max_points)}`` over its reports."""
    sums: dict[str, tuple[float, float]] = {}
    for r in reports:
        points, maximum = sums.get(_folder(r), (0.0, 0.0))
        sums[_folder(r)] = (round(points + r.points, 6), round(maximum + r.max_points, 6))
    return sums


def document(reports: Sequence[Report], errors: Sequence[str] = ()) -> dict[str, Any]:
    """The ``--json`` report: every result, totals per folder, and the bad-input lines."""
    return {
        "results": [r.to_dict() for r in reports],
        "passed": sum(r.ok for r in reports),
        "total": len(reports),
        "folders": {
            folder: {"points": points, "max_points": maximum}
            for folder, (points, maximum) in totals(reports).items()
        },
        "errors": list(errors),
    }


def write_csv(reports: Sequence[Report], names: Sequence[str], path: str | Path) -> None:
    """A row per folder: its points per exercise, the total and the maximum."""
    points = {(_folder(r), r.exercise): r.points for r in reports}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["folder", *names, "total", "max_points"])
    for folder, (total, maximum) in totals(reports).items():
        row = [f"{points.get((folder, name), 0.0):g}" for name in names]
        writer.writerow([folder, *row, f"{total:g}", f"{maximum:g}"])
    write_atomic(path, buffer.getvalue())


def gradescope(reports: Sequence[Report], seconds: float) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one submission (the reports of one folder)."""
    tests: list[dict[str, Any]] = []
    for report in reports:
        for number, result in enumerate(report.results, 1):
            output = result.message + (f"\nhint: {result.hint}" if result.hint else "")
            if report.status in ("not started", "error") and number == 1:
                output = f"{report.status}: {report.message}"
            tests.append(
                {
                    "name": f"{report.exercise}: {result.name}",
                    "number": f"{report.exercise}.{number}",
                    "score": result.points,
                    "max_score": result.max_points,
                    "status": "passed" if result.passed else "failed",
                    "output": output,
                    "visibility": "visible",
                }
            )
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "execution_time": round(seconds),
        "output": "\n".join(_summary(r) for r in reports),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _summary(report: Report) -> str:
    return f"{report.exercise}: {report.status}, {report.points:g}/{report.max_points:g} points"


def feedback(reports: Sequence[Report]) -> str:
    """The Markdown feedback page of one folder."""
    folder = _folder(reports[0]) if reports else "."
    points = sum(r.points for r in reports)
    maximum = sum(r.max_points for r in reports)
    lines = [f"# Feedback for `{folder}`", "", f"**{points:g} of {maximum:g} points.**", ""]
    lines += ["| exercise | status | points | hints opened |", "|---|---|---|---|"]
    for r in reports:
        lines.append(
            f"| {r.exercise} | {r.status} | {r.points:g}/{r.max_points:g} | {r.hints_opened} |"
        )
    for r in reports:
        failing = [x for x in r.results if not x.passed and x.message != NOT_RUN]
        if r.status in ("not started", "error"):
            lines += ["", f"## {r.exercise}: {r.status}", "", r.message]
        for result in failing:
            lines += ["", f"## {r.exercise}: {result.name}", "", "```text", result.message, "```"]
            if result.hint:
                lines += ["", f"Hint: {result.hint}"]
    return "\n".join(lines) + "\n"


def write_json(path: str | Path, data: dict) -> None:
    """``data`` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2) + "\n")
