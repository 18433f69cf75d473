"""Graded questions: numeric or multiple choice, answered in the student's file, read with ``ast``.

Each exercise asks a few questions (CS231n's "Inline Questions", d2l's end-of-section
exercises): how many windows cover a pixel, which axes a gradient sums over, why the row maximum
is subtracted. The student answers them in the exercise's own file, in one module-level
dictionary literal the stub shows::

    ANSWERS = {
        "windows_at_1_1": 4,      # a number
        "flipped": "b",           # the letter of a choice
    }

``grade_questions(questions, source)`` reads that dictionary from the file's *text* with
``ast.literal_eval``: the student's file is never executed to grade its answers, so nothing in
it can change a mark. Each question gives its points when right, and a one-line why when wrong
(``QuestionResult``). Nothing is a penalty beyond the question's own points.

An exercise declares its questions as ``Question`` objects; ``answers_block`` writes the
``ANSWERS`` dictionary the stub shows (the questions as comments, ``None`` as every answer) or,
for a teacher's copy, the right answers.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "ANSWERS_NAME",
    "Question",
    "QuestionResult",
    "answers_block",
    "grade_questions",
    "read_answers",
]

ANSWERS_NAME = "ANSWERS"


@dataclass(frozen=True)
class Question:
    """One graded question.

    Parameters
    ----------
    key : str
        Its key in the student's ``ANSWERS`` dictionary (a Python identifier).
    text : str
        The question, one or two sentences.
    answer : float or str
        The number, or the letter of the right choice.
    why : str
        One line shown when the answer is wrong: the reason, not just the value.
    choices : tuple of str
        For multiple choice, the options in order; they are lettered ``a``, ``b``, ...
    points : int
    rel_tol, abs_tol : float
        How close a numeric answer must be (``math.isclose``).
    """

    key: str
    text: str
    answer: float | str
    why: str
    choices: tuple[str, ...] = ()
    points: int = 1
    rel_tol: float = 1e-3
    abs_tol: float = 1e-9

    def __post_init__(self) -> None:
        if not self.key.isidentifier():
            raise ValueError(f"question key must be an identifier, got {self.key!r}")
        if self.choices and self.answer not in self.letters:
            raise ValueError(f"{self.key}: answer must be one of {self.letters}, got {self.answer}")
        if not self.choices and isinstance(self.answer, str):
            raise ValueError(f"{self.key}: a question without choices needs a numeric answer")

    @property
    def letters(self) -> tuple[str, ...]:
        """``("a", "b", ...)``, one per choice."""
        return tuple("abcdefgh"[: len(self.choices)])

    def is_right(self, given: Any) -> bool:
        """Whether ``given`` (a value from the student's ``ANSWERS``) is the answer."""
        if self.choices:
            return isinstance(given, str) and given.strip().lower() == self.answer
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            return False
        return math.isclose(given, float(self.answer), rel_tol=self.rel_tol, abs_tol=self.abs_tol)


@dataclass(frozen=True)
class QuestionResult:
    """The mark for one question: ``points`` of ``max_points`` and a one-line ``message``."""

    key: str
    points: int
    max_points: int
    message: str

    @property
    def ok(self) -> bool:
        """True when the answer was right."""
        return self.points == self.max_points

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``tinycnn exercises check --json``): every field."""
        return asdict(self)


def read_answers(source: str) -> dict[str, Any]:
    """The ``ANSWERS`` dictionary literal of a student's file, read without running it.

    Raises
    ------
    ValueError
        If the text does not parse, holds no module-level ``ANSWERS = {...}``, or the value is
        not a literal (numbers, strings, None): one line saying which.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"the file does not parse (line {error.lineno}: {error.msg})") from None
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == ANSWERS_NAME for target in node.targets
        ):
            found = node.value
    if found is None:
        raise ValueError(f"no {ANSWERS_NAME} = {{...}} at the top level of the file")
    try:
        answers = ast.literal_eval(found)
    except ValueError:
        raise ValueError(
            f"{ANSWERS_NAME} (line {found.lineno}) must be a dictionary literal of numbers and "
            "strings; no names or calls"
        ) from None
    if not isinstance(answers, dict):
        raise ValueError(f"{ANSWERS_NAME} should be a dict, got {type(answers).__name__}")
    return answers


def _mark(question: Question, answers: dict[str, Any]) -> QuestionResult:
    given = answers.get(question.key)
    if given is None:
        return QuestionResult(question.key, 0, question.points, "not answered")
    if question.is_right(given):
        return QuestionResult(question.key, question.points, question.points, "right")
    expected = "a letter, " + ", ".join(question.letters) if question.choices else "a number"
    if question.choices and not isinstance(given, str):
        return QuestionResult(
            question.key, 0, question.points, f"expected {expected}, got {given!r}"
        )
    return QuestionResult(question.key, 0, question.points, f"{given!r} is wrong: {question.why}")


def grade_questions(questions: Sequence[Question], source: str) -> list[QuestionResult]:
    """Mark every question from the ``ANSWERS`` in ``source`` (the student's file as text).

    A file whose answers cannot be read scores 0 on every question, each saying why.
    """
    try:
        answers = read_answers(source)
    except ValueError as error:
        return [QuestionResult(q.key, 0, q.points, str(error)) for q in questions]
    return [_mark(question, answers) for question in questions]


def _comment(text: str, indent: str) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(indent) + len(line) + len(word) + 3 > 99:
            lines.append(f"{indent}# {line.rstrip()}")
            line = ""
        line += word + " "
    lines.append(f"{indent}# {line.rstrip()}")
    return lines


def answers_block(questions: Sequence[Question], solved: bool = False) -> str:
    """The ``ANSWERS = {...}`` text a handout shows: each question as a comment above its key.

    With ``solved`` the right answers are filled in (the teacher's copy); otherwise ``None``.
    """
    lines = [
        "# Questions, graded by `check` (points in brackets). Answer each in ANSWERS below:",
        "# a number, or the letter of a choice as a string. The file is read, not run, to mark",
        "# them: keep ANSWERS a plain dictionary of numbers and strings.",
        f"{ANSWERS_NAME} = {{",
    ]
    for question in questions:
        lines += _comment(f"[{question.points}] {question.text}", "    ")
        lines += [
            f"    #   {letter}) {choice}"
            for letter, choice in zip(question.letters, question.choices, strict=True)
        ]
        value = json.dumps(question.answer) if solved else "None"
        kind = "a letter" if question.choices else "a number"
        lines.append(f'    "{question.key}": {value},  # {kind}')
    lines.append("}")
    return "\n".join(lines)
