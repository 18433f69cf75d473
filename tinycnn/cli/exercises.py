"""``tinycnn exercises``: list, hand out and grade the exercises (``tinycnn.teach.exercises``).

- ``list [DIR]``: every exercise in course order, its topic and its status in ``DIR``;
- ``start NAME [DIR] [--solution] [--notebook] [--force]``: write ``DIR/NAME.py`` (or
  ``NAME.ipynb``; the reference answer with ``--solution``, for teachers). An existing file is
  never replaced without ``--force``, and a symbolic link is never followed;
- ``hint NAME [DIR]``: open the next of three hint levels (shapes, the chain-rule path with a
  picture, the formula), recorded in ``DIR/.tinycnn-hints.json`` and shown in the report;
- ``check NAME [DIR ...]``: grade; ``NAME`` may be ``all``. Each (exercise, folder) runs in a
  child process of its own with a time limit per check (``--timeout``) and a memory limit
  (``--memory``); ``--jobs N`` grades N at a time. With one exercise and one folder the feedback
  is printed in full; with several, one line each as they finish and a table (folders by
  exercises, in points). ``--json``, ``--csv``, ``--gradescope`` and ``--feedback`` write marks.
  Exit status 0 when everything passed, 1 when something failed or was not started, 2 when an
  input could not be graded (one line each on stderr; the rest is graded).

Every action takes ``--exercises DIR``: a teacher's pack of exercise files, listed, started and
graded with the built-in ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    start.add_argument(
        "--notebook", action="store_true", help="write NAME.ipynb (needs jupytext) instead"
    )
    start.add_argument("--force", action="store_true", help="replace an existing file")
    check = actions.add_parser(
        "check",
        help="grade DIR/NAME.py (NAME 'all': every exercise), each in its own process",
        description="Grade each exercise in each folder in a child process of its own (a copy "
        "of the files in a temporary folder, time and memory limits; every verdict made here). "
        "Exit status: 0 all passed, 1 something failed or was not started, 2 an input could "
        "not be graded (one line each on stderr; the rest is graded).",
    )
    check.add_argument("name", help="an exercise name, or 'all'")
    check.add_argument(
        "dirs", nargs="*", default=["."], metavar="DIR", help="one or more students' folders (.)"
    )
    check.add_argument("--json", metavar="FILE", help="write every result and total as JSON")
    check.add_argument("--csv", metavar="FILE", help="write points: a row per folder, a total")
    check.add_argument(
        "--gradescope", metavar="FILE", help="write Gradescope's results.json (one folder)"
    )
    check.add_argument(
        "--feedback", metavar="OUTDIR", help="write OUTDIR/<folder>.md: the marks and every failure"
    )
    check.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N at a time (1)")
    check.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="wall-clock limit of the student's code per check (default: the exercise's; "
        "60 s, the capstone 600 s)",
    )
    check.add_argument(
        "--memory", type=int, default=2048, metavar="MB", help="memory limit per student (2048)"
    )
    hint = _add_hint_arguments(actions)
    for action in (listing, start, check, hint):
        action.add_argument(
            "--exercises", metavar="PACK", help="a folder of your own exercise files (NN_name.py)"
        )


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    return {"list": _list, "start": _start, "check": _check, "hint": _hint}[args.action](args)


def _list(args: argparse.Namespace) -> int:
    from tinycnn.teach.exercises import exercises, status

    rows = [(e.name, e.topic, status(e, args.dir)) for e in exercises(args.exercises)]
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
        path = start(
            args.name,
            args.dir,
            solution=args.solution,
            force=args.force,
            notebook=args.notebook,
            pack=args.exercises,
        )
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    what = "the reference answer" if args.solution else "the exercise"
    command = f"tinycnn exercises check {args.name} {args.dir}"
    if args.exercises:
        command += f" --exercises {args.exercises}"
    print(f"wrote {what} to {path}; check it with: {command}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from tinycnn.cli import CommandError, check_output
    from tinycnn.teach.exercises import check_all, exercises, get_exercise
    from tinycnn.teach.exercises.grading import PROGRESS
    from tinycnn.teach.exercises.sandbox import Limits

    if args.jobs < 1 or (args.timeout is not None and not args.timeout > 0) or args.memory < 64:
        raise CommandError(
            f"expected --jobs >= 1, --timeout > 0 and --memory >= 64 MB, got {args.jobs}, "
            f"{args.timeout} and {args.memory}"
        )
    if args.gradescope and len(args.dirs) != 1:
        raise CommandError(
            f"--gradescope writes one submission's results: give one folder, got {len(args.dirs)}"
        )
    for option in ("json", "csv", "gradescope"):
        if getattr(args, option):
            check_output(Path(getattr(args, option)), f"--{option}")
    if args.feedback and not Path(args.feedback).is_dir():
        raise CommandError(f"--feedback {args.feedback}: expected an existing folder")
    if args.name == "all":
        names = [e.name for e in exercises(args.exercises)]
    else:
        names = [get_exercise(args.name, args.exercises).name]
    folders, errors = _usable_folders(args.dirs, names)
    started = time.monotonic()
    many = len(names) * len(folders) > 1
    PROGRESS.set(lambda line: print(line, flush=True))  # the capstone's training, as it runs
    reports = check_all(
        names,
        folders,
        pack=args.exercises,
        timeout=args.timeout,
        limits=Limits(memory_mb=args.memory),
        jobs=args.jobs,
        progress=(lambda r: print(_one_line(r), flush=True)) if many else None,
    )
    errors += [f"{r.message}" for r in reports if r.status == "error"]
    if len(reports) == 1:
        print(reports[0])
    elif reports:
        print()
        print(summary_table(reports, folders, names))
    _write_marks(args, reports, names, errors, time.monotonic() - started)
    for line in errors:
        print(f"tinycnn exercises: error: {line}", file=sys.stderr)
    if errors:
        return 2
    return 0 if reports and all(r.ok for r in reports) else 1


def _usable_folders(dirs: list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """The folders that can be graded, and one line for each that cannot."""
    usable: list[str] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for folder in dirs:
        path = Path(folder)
        key = path.resolve().name
        if not path.exists():
            errors.append(f"{folder}: no such folder")
        elif not path.is_dir():
            errors.append(f"{folder}: expected a folder of a student's files, got a file")
        elif not os.access(path, os.R_OK | os.X_OK):
            errors.append(f"{folder}: the folder cannot be read (permission denied)")
        elif key in seen:
            errors.append(f"{folder}: another folder is also named {key!r} ({seen[key]})")
        elif not any(
            (path / f"{n}{suffix}").exists() or (path / f"{n}{suffix}").is_symlink()
            for n in names
            for suffix in (".py", ".ipynb")
        ):
            expected = f"{names[0]}.py" if len(names) == 1 else "any exercise file"
            errors.append(
                f"{folder}: has no {expected} (to begin: tinycnn exercises start "
                f"{names[0] if len(names) == 1 else 'NAME'} {folder})"
            )
        else:
            seen[key] = folder
            usable.append(folder)
    return usable, errors


def _write_marks(args, reports, names, errors, seconds: float) -> None:
    from tinycnn.teach.exercises import marks

    if args.json:
        marks.write_json(args.json, marks.document(reports, errors))
    if args.csv:
        marks.write_csv(reports, names, args.csv)
    if args.gradescope:
        marks.write_json(args.gradescope, marks.gradescope(reports, seconds))
    if args.feedback:
        by_folder: dict[Path, list] = {}
        for report in reports:
            by_folder.setdefault(report.path.parent, []).append(report)
        for folder, folder_reports in by_folder.items():
            page = Path(args.feedback) / f"{folder.resolve().name}.md"
            marks.write_atomic(page, marks.feedback(folder_reports))


def _one_line(report) -> str:
    points = f"{report.points:g}/{report.max_points:g}"
    if report.status == "failed":
        return f"FAIL  {report.path}: {report.failed_check} ({points})"
    if report.status == "error":
        return f"ERR   {report.message}"
    return f"{'ok' if report.ok else '--':<4}  {report.path}: {report.status} ({points})"


def summary_table(reports, dirs, names) -> str:
    """Folders (rows) by exercises (columns): points earned ``3/4``, ``-`` not started, ``err``
    not gradable; then the exercises passed and the points in all."""
    cells = {(str(r.path.parent), r.exercise): r for r in reports}
    width = max(len(str(Path(d))) for d in dirs)
    columns = [max(len(n), 5) for n in names]
    lines = [
        f"{'folder':<{width}}  "
        + "  ".join(f"{n:>{c}}" for n, c in zip(names, columns, strict=True))
        + "  passed  points"
    ]
    for folder in dirs:
        key = str(Path(folder))
        row = [cells.get((key, n)) for n in names]
        passed = sum(r is not None and r.ok for r in row)
        points = sum(r.points for r in row if r is not None)
        maximum = sum(r.max_points for r in row if r is not None)
        lines.append(
            f"{key:<{width}}  "
            + "  ".join(f"{_cell(r):>{c}}" for r, c in zip(row, columns, strict=True))
            + f"  {f'{passed}/{len(names)}':>6}  {points:g}/{maximum:g}"
        )
    return "\n".join(lines)


def _cell(report) -> str:
    if report is None or report.status == "error":
        return "err"
    if report.status == "not started":
        return "-"
    return f"{report.points:g}/{report.max_points:g}"


# --- hint (issue 22): kept in one block so that the engine's edits above merge cleanly ---


def _add_hint_arguments(actions) -> argparse.ArgumentParser:
    hint = actions.add_parser("hint", help="open the next hint level for NAME (3 levels)")
    hint.add_argument("name", help="an exercise name (see 'list')")
    hint.add_argument("dir", nargs="?", default=".", help="the student's folder (.)")
    return hint


def _hint(args: argparse.Namespace) -> int:
    from tinycnn.cli import CommandError
    from tinycnn.teach.exercises import get_exercise
    from tinycnn.teach.exercises.hints import open_next_hint

    try:
        exercise = get_exercise(args.name, args.exercises)
        if exercise.hints is None:
            raise ValueError(f"exercise {args.name} has no hints")
        print(open_next_hint(exercise.name, exercise.hints, args.dir))
    except ValueError as error:
        raise CommandError(str(error)) from None
    return 0
