"""Grading one exercise in one folder: read the file, refuse borrowed answers, run the checks.

``grade`` reads the student's file here, in the parent (a ``.py``, or a notebook's code cells),
refuses it when it is not a readable exercise file (``BadInputError``: missing folder, binary,
not UTF-8, too large) or when it imports what it must write (``imports``), grades the graded
questions from its text without running it, then opens a child process holding a copy of the
file (``sandbox``) and runs the exercise's checks in order against it, each with its own time
limit. Every verdict and every point is decided here.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinycnn.teach.exercises.grading import (
    CheckError,
    CheckResult,
    ChildGoneError,
    Exercise,
    NotStartedError,
    Student,
    StudentError,
)
from tinycnn.teach.exercises.hints import hints_opened
from tinycnn.teach.exercises.imports import allowed_imports, borrowed_imports
from tinycnn.teach.exercises.sandbox import Limits, Sandbox, StudentFile

__all__ = ["MAX_FILE_BYTES", "BadInputError", "Report", "grade", "notebook_code", "read_student"]

MAX_FILE_BYTES = 2 * 2**20  # an exercise file is a few kilobytes; a notebook maybe a megabyte
# CPython 3.11's ast.parse is not safe in several threads at once ("AST constructor recursion
# depth mismatch", a known CPython bug): the parent's readings of the files take turns.
_AST_LOCK = threading.Lock()


class BadInputError(Exception):
    """A folder or file the grader cannot grade; the message is one line."""


@dataclass
class Report:
    """Outcome of grading one exercise in one folder; ``str()`` is what the student reads."""

    exercise: str
    path: Path
    status: str  # "passed", "failed", "not started" or "error" (bad input)
    results: list[CheckResult] = field(default_factory=list)
    message: str = ""
    hints_opened: int = 0
    output: str = ""  # what the student's code printed
    seconds: float = 0.0  # wall-clock time of the grading

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.status == "passed"

    @property
    def passed(self) -> list[str]:
        """Names of the checks passed."""
        return [r.name for r in self.results if r.passed]

    @property
    def failed(self) -> CheckResult | None:
        """The first failed check (or question), if any."""
        return next((r for r in self.results if not r.passed and r.message != NOT_RUN), None)

    @property
    def failed_check(self) -> str | None:
        """The name of the first failed check."""
        return None if self.failed is None else self.failed.name

    @property
    def hint(self) -> str | None:
        """The hint of the first failed check."""
        return None if self.failed is None else self.failed.hint

    @property
    def points(self) -> float:
        """Points earned (partial credit included)."""
        return round(sum(r.points for r in self.results), 6)

    @property
    def max_points(self) -> float:
        """Points available."""
        return round(sum(r.max_points for r in self.results), 6)

    @property
    def total(self) -> int:
        """Number of checks and questions."""
        return len(self.results)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``tinycnn exercises check --json``."""
        return {
            "exercise": self.exercise,
            "path": str(self.path),
            "status": self.status,
            "points": self.points,
            "max_points": self.max_points,
            "checks_passed": len(self.passed),
            "checks": self.total,
            "failed_check": self.failed_check,
            "message": self.message or (self.failed.message if self.failed else ""),
            "hint": self.hint,
            "hints_opened": self.hints_opened,
            "results": [r.to_dict() for r in self.results],
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        """Every field, as JSON text (between the grader's own processes)."""
        fields = {**vars(self), "path": str(self.path)}
        fields["results"] = [r.to_dict() for r in self.results]
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> Report:
        """The report ``to_json`` wrote."""
        fields = json.loads(text)
        fields["path"] = Path(fields["path"])
        fields["results"] = [CheckResult(**r) for r in fields["results"]]
        return cls(**fields)

    def __str__(self) -> str:
        lines = [f"{self.exercise} ({self.path})"]
        for r in self.results:
            if r.passed:
                lines.append(f"  ok    {r.name}  [{_points(r.points)}/{_points(r.max_points)}]")
            elif r.message != NOT_RUN and self.status == "failed":
                lines.append(f"  FAIL  {r.name}  [{_points(r.points)}/{_points(r.max_points)}]")
                lines += [f"        {line}" for line in r.message.splitlines()]
                if r.hint:
                    lines.append(f"        hint: {r.hint}")
        if self.status in ("not started", "error"):
            lines.append(f"  {self.status}: {self.message}")
        if self.hints_opened:
            lines.append(f"  hints opened: {self.hints_opened} of 3 (no penalty)")
        score = f"{_points(self.points)}/{_points(self.max_points)} points"
        verdict = {
            "passed": f"passed all {self.total} checks ({score})",
            "failed": f'FAILED at "{self.failed_check}" ({len(self.passed)} of {self.total} '
            f"checks passed, {score})",
            "not started": "not started",
            "error": "not graded (see above)",
        }[self.status]
        lines.append(f"{self.exercise}: {verdict}")
        return "\n".join(lines)


NOT_RUN = "not run: an earlier check failed"


def _points(value: float) -> str:
    return f"{value:g}"


def notebook_code(text: str, path: Path) -> str:
    """The code cells of a notebook's JSON text, as one file (magics and shell lines dropped)."""
    try:
        cells = json.loads(text)["cells"]
        sources = [
            "".join(c["source"]) if isinstance(c["source"], list) else str(c["source"])
            for c in cells
            if c.get("cell_type") == "code"
        ]
    except (ValueError, KeyError, TypeError):
        raise BadInputError(f"{path}: expected a Jupyter notebook (JSON with cells)") from None
    keep = lambda line: not line.lstrip().startswith(("%", "!"))  # noqa: E731
    return "\n\n".join("\n".join(filter(keep, s.splitlines())) for s in sources) + "\n"


def read_student(folder: Path, name: str) -> tuple[Path, str] | None:
    """``(path, code)`` of the student's ``name.py`` or ``name.ipynb`` in ``folder``; None if
    neither exists. ``BadInputError`` for a file that is not a readable exercise file."""
    candidates = [folder / f"{name}.py", folder / f"{name}.ipynb"]
    present = [p for p in candidates if p.exists() or p.is_symlink()]
    if len(present) == 2:
        raise BadInputError(f"{folder} holds both {name}.py and {name}.ipynb: keep one of them")
    if not present:
        return None
    path = present[0]
    if path.is_symlink() or not path.is_file():
        raise BadInputError(f"{path}: expected a regular file, got a link or a folder")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BadInputError(f"{path}: {size / 2**20:.1f} MB; an exercise file may be at most 2 MB")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"{path}: cannot be read ({error.strerror})") from None
    if b"\0" in data:
        raise BadInputError(f"{path}: a binary file; expected Python source text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError(
            f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    return path, notebook_code(text, path) if path.suffix == ".ipynb" else text


def grade(
    exercise: Exercise,
    folder: Path,
    sandbox: Sandbox,
    handouts: dict[str, str],
    timeout: float | None = None,
    limits: Limits | None = None,
) -> Report:
    """Grade ``folder``'s file for ``exercise`` in a fresh child process.

    ``handouts`` maps exercise names to their student handout text (what may be imported, and
    how an untouched file reads); ``timeout`` overrides the exercise's seconds per check.
    """
    started = time.monotonic()
    report = _grade(exercise, Path(folder), sandbox, handouts, timeout, limits or Limits())
    report.seconds = time.monotonic() - started
    return report


def _grade(exercise, folder, sandbox, handouts, timeout, limits) -> Report:
    report = Report(exercise.name, exercise.student_path(folder), "not started")
    report.hints_opened = hints_opened(folder, exercise.name)
    try:
        files = _student_files(exercise, folder)
    except BadInputError as error:
        report.status, report.message = "error", str(error)
        return report
    if not files:
        report.message = f"{report.path} does not exist (to begin: tinycnn exercises start " + (
            f"{exercise.name} {folder})"
        )
        return report
    report.path = files[0].display
    with _AST_LOCK:
        questions = _questions(exercise, files[0].text)
        refusal = _refusal(exercise, files, handouts)
    if files[0].text == handouts[exercise.name]:
        report.message = f"{report.path.name} is the handout as it was given: write your answers"
        report.results = _not_run(exercise.checks)
    elif refusal is not None:
        _fail_all(report, exercise, *refusal)
    else:
        seconds = timeout if timeout is not None else exercise.timeout
        _run_in_child(report, exercise, files, handouts, sandbox, seconds, limits)
    report.results += questions
    if report.status == "passed" and not all(r.passed for r in report.results):
        report.status = "failed"
    return report


def _run_in_child(report, exercise, files, handouts, sandbox, seconds, limits) -> None:
    """Load the files in a fresh child process and run the checks against it."""
    cpu = seconds * (len(exercise.checks) + 1) + 10
    harness = exercise.source.parent / exercise.harness if exercise.harness else None
    allowed: dict[str, list[str]] = {}
    for name in (exercise.name, *exercise.uses):
        for module, names in allowed_imports(handouts[name]).items():
            allowed.setdefault(module, []).extend(names)
    limits = Limits(limits.memory_mb, limits.file_mb, cpu)
    try:
        session = sandbox.open(files, exercise.functions, allowed, harness, limits)
    except ChildGoneError as gone:  # the process ended before it connected
        _fail_all(report, exercise, "loading the file", f"{gone.reason} while starting")
        return
    try:
        try:
            opened = session.load(seconds)
        except ChildGoneError as gone:
            reason = gone.reason.replace("TIMEOUT", f"your code took longer than {seconds:g} s")
            opened = {"op": "gone", "reason": f"{reason} while loading the file"}
        _run_checks(report, exercise, session, opened, seconds)
        report.output = session.output()
    finally:
        session.close()


def _student_files(exercise: Exercise, folder: Path) -> list[StudentFile]:
    """The student's file, then those of ``uses`` that exist; [] if the student's is missing."""
    if not folder.is_dir():
        got = "a file" if folder.exists() else "nothing"
        raise BadInputError(f"{folder}: expected a folder of a student's files, got {got}")
    files = []
    for name in (exercise.name, *exercise.uses):
        found = read_student(folder, name)
        if found is None and name == exercise.name:
            return []
        if found is not None:
            files.append(StudentFile(name, found[1], found[0]))
    return files


def _refusal(exercise, files, handouts) -> tuple[str, str] | None:
    """``(check name, message)`` when the files cannot be graded as they are."""
    absent = [f"{u}.py" for u in exercise.uses if u not in {f.exercise for f in files}]
    if absent:
        where = files[0].display.parent
        return "your other exercises' files", f"{', '.join(absent)} missing from {where}"
    problems = []
    for file in files:
        allowed = allowed_imports(handouts[file.exercise])
        problems += borrowed_imports(file.text, allowed, file.display.name)
    return ("no borrowed answers", "\n".join(problems)) if problems else None


def _questions(exercise: Exercise, text: str) -> list[CheckResult]:
    if not exercise.questions:
        return []
    from tinycnn.teach.exercises.questions import grade_questions  # type: ignore[import-not-found]

    return [
        CheckResult(f"question {q.key}", q.points, q.max_points, q.ok, q.message)
        for q in grade_questions(exercise.questions, text)
    ]


def _not_run(checks) -> list[CheckResult]:
    return [CheckResult(c.name, 0.0, c.points, False, NOT_RUN) for c in checks]


def _fail_all(report: Report, exercise: Exercise, name: str, message: str) -> None:
    report.status = "failed"
    report.results = [CheckResult(name, 0.0, 0.0, False, message), *_not_run(exercise.checks)]


def _run_checks(report: Report, exercise: Exercise, session, opened, seconds: float) -> None:
    if opened["op"] != "loaded":
        reason = _load_failure(opened, report.path.name)
        if opened["op"] == "not_started":
            report.status, report.message = "not started", reason
            report.results = _not_run(exercise.checks)
        else:
            _fail_all(report, exercise, "loading the file", reason)
        return
    student = Student(session, report.path)
    report.status = "passed"
    for number, check in enumerate(exercise.checks, 1):
        if report.status != "passed":
            report.results.append(CheckResult(check.name, 0.0, check.points, False, NOT_RUN))
            continue
        student.begin_check(seconds)
        result = _run_one(check, student, number, seconds)
        if isinstance(result, NotStartedError):
            report.status, report.message = "not started", str(result)
            report.results = _not_run(exercise.checks)
            return
        report.results.append(result)
        if not result.passed:
            report.status = "failed"


def _run_one(check, student: Student, number: int, seconds: float):
    """The check's result, or the NotStartedError to report."""
    try:
        check.run(student)
    except NotStartedError as not_started:
        return not_started
    except CheckError as failure:
        points = check.points * failure.credit
        return CheckResult(check.name, points, check.points, False, failure.message, failure.hint)
    except StudentError as error:
        message = f"your code raised an error:\n{error.text}"
        return CheckResult(check.name, 0.0, check.points, False, message)
    except ChildGoneError as gone:
        reason = gone.reason
        if reason == "TIMEOUT":
            reason = f"your code took longer than {seconds:g} s"
        return CheckResult(check.name, 0.0, check.points, False, f"{reason} in check {number}")
    return CheckResult(check.name, check.points, check.points, True)


def _load_failure(opened: dict, filename: str) -> str:
    op = opened["op"]
    if op == "missing":
        return (
            f"{filename} defines no function {', '.join(f + '(...)' for f in opened['functions'])}"
        )
    if op == "not_started":
        return f"{filename} still raises NotImplementedError when it is loaded"
    if op == "raised" and opened["kind"] == "exception":
        return f"your code raised an error {opened['where']}:\n{opened['text']}"
    if op == "raised":
        what = {"memory": "ran out of memory", "interrupt": "raised KeyboardInterrupt"}
        return f"your code {what[opened['kind']]} {opened['where']}"
    if op == "exit":
        return f"your code exited with status {opened['code']} {opened['where']}"
    if op == "borrowed":
        return f"your code {opened['text']}"
    if op == "gone":
        return str(opened["reason"])
    return f"loading {filename}: {op}"
