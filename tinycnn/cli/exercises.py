"""``tinycnn exercises``: list, hand out and grade the exercises (``tinycnn.teach.exercises``).

- ``list [DIR]``: every exercise in course order, its topic and its status in ``DIR``;
- ``start NAME [DIR] [--solution] [--force]``: write ``DIR/NAME.py`` (the reference answer with
  ``--solution``, for teachers);
- ``hint NAME [DIR]``: open the next of three hint levels (shapes, the chain-rule path with a
  picture, the formula), recorded in ``DIR/.tinycnn-hints.json`` and shown in the report;
- ``check NAME [DIR ...] [--json REPORT]``: grade; ``NAME`` may be ``all``. With one exercise and
  one folder the feedback is printed in full; with several, one line each and a summary table
  (folders by exercises). Exit status 0 when everything passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "exercises: list them, start one (write the student's file), check (grade) it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The three actions and their arguments."""
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    listing = actions.add_parser("list", help="list the exercises and their status in DIR")
    listing.add_argument("dir", nargs="?", default=".", help="the student's folder (.)")
    start = actions.add_parser("start", help="write the student's file DIR/NAME.py")
    start.add_argument("name", help="an exercise name (see 'list')")
    start.add_argument("dir", nargs="?", default=".", help="folder to write into (.)")
    start.add_argument("--solution", action="store_true", help="write the reference answer")
    start.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = actions.add_parser("check", help="grade DIR/NAME.py (NAME 'all': every exercise)")
    check.add_argument("name", help="an exercise name, or 'all'")
    check.add_argument(
        "dirs", nargs="*", default=["."], metavar="DIR", help="one or more students' folders (.)"
    )
    check.add_argument("--json", metavar="REPORT", help="also write every result as JSON here")
    _add_hint_arguments(actions)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    return {"list": _list, "start": _start, "check": _check, "hint": _hint}[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from tinycnn.teach.exercises import exercises, status

    rows = [(e.name, e.topic, status(e, args.dir)) for e in exercises()]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'exercise':<{width}}  {'status':<11}  topic")
    for name, topic, state in rows:
        print(f"{name:<{width}}  {state:<11}  {topic}")
    print(f"\n{len(rows)} exercises; start one with: tinycnn exercises start NAME {args.dir}")
    return 0


def _start(args: argparse.Namespace) -> int:
    from tinycnn.cli import CommandError
    from tinycnn.teach.exercises import start

    try:
        path = start(args.name, args.dir, solution=args.solution, force=args.force)
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    what = "the reference answer" if args.solution else "the exercise"
    print(f"wrote {what} to {path}; check it with: tinycnn exercises check {args.name} {args.dir}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from tinycnn.teach.exercises import check, exercises, get_exercise
    from tinycnn.teach.exercises.grading import PROGRESS

    names = [e.name for e in exercises()] if args.name == "all" else [get_exercise(args.name).name]
    PROGRESS.set(lambda line: print(line, flush=True))  # the capstone's training, as it runs
    reports = [check(name, folder) for folder in args.dirs for name in names]
    if len(reports) == 1:
        print(reports[0])
    else:
        for report in reports:
            print(_one_line(report))
        print()
        print(summary_table(reports, args.dirs, names))
    if args.json:
        document = {
            "results": [r.to_dict() for r in reports],
            "passed": sum(r.ok for r in reports),
            "total": len(reports),
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r.ok for r in reports) else 1


def _one_line(report) -> str:
    if report.status == "failed":
        return f"FAIL  {report.path}: {report.failed_check}"
    return f"{'ok' if report.ok else '--':<4}  {report.path}: {report.status}"


def summary_table(reports, dirs, names) -> str:
    """Folders (rows) by exercises (columns): ``ok``, ``k/n`` checks passed, or ``-`` not
    started; the last column counts the exercises passed."""
    cells = {(str(r.path.parent), r.exercise): _cell(r) for r in reports}
    width = max(len(str(Path(d))) for d in dirs)
    columns = [max(len(n), 5) for n in names]
    lines = [
        f"{'folder':<{width}}  "
        + "  ".join(f"{n:>{c}}" for n, c in zip(names, columns, strict=True))
        + "  passed"
    ]
    for folder in dirs:
        key = str(Path(folder))
        row = [cells[(key, n)] for n in names]
        passed = sum(cell == "ok" for cell in row)
        lines.append(
            f"{key:<{width}}  "
            + "  ".join(f"{v:>{c}}" for v, c in zip(row, columns, strict=True))
            + f"  {passed}/{len(names)}"
        )
    return "\n".join(lines)


def _cell(report) -> str:
    if report.status == "passed":
        return "ok"
    if report.status == "not started":
        return "-"
    return f"{len(report.passed)}/{report.total}"


# --- hint (issue 22): kept in one block so that the engine's edits above merge cleanly ---


def _add_hint_arguments(actions) -> None:
    hint = actions.add_parser("hint", help="open the next hint level for NAME (3 levels)")
    hint.add_argument("name", help="an exercise name (see 'list')")
    hint.add_argument("dir", nargs="?", default=".", help="the student's folder (.)")


def _hint(args: argparse.Namespace) -> int:
    from tinycnn.cli import CommandError
    from tinycnn.teach.exercises import get_exercise
    from tinycnn.teach.exercises.hints import open_next_hint

    try:
        exercise = get_exercise(args.name)
        if exercise.hints is None:
            raise ValueError(f"exercise {args.name} has no hints")
        print(open_next_hint(exercise.name, exercise.hints, args.dir))
    except ValueError as error:
        raise CommandError(str(error)) from None
    return 0
