"""Progressive hints: three levels per exercise, opened one at a time, recorded in the folder.

``tinycnn exercises hint NAME DIR`` opens the next level of ``NAME``'s ladder (Khan Academy's
hint ladders; ok-client's guidance):

1. the shapes, and which axes a sum runs over;
2. the path of the chain rule (or of the algorithm), with a picture from ``tinycnn.plots``
   written into the folder where one helps;
3. the formula.

Which levels a student opened is recorded in ``DIR/.tinycnn-hints.json`` (written atomically:
a temporary file renamed over the old one)::

    {"format": "tinycnn-hints/1",
     "exercises": {"im2col": {"opened": 2, "at": ["2026-12-03T16:40:00Z", "..."]}}}

The grader's report shows the count to the teacher (``hints opened: 2 of 3``); it is never a
penalty unless a pack says so.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HINTS_FILE", "HintLadder", "OpenedHint", "hints_opened", "open_next_hint", "plotted"]

HINTS_FILE = ".tinycnn-hints.json"
FORMAT = "tinycnn-hints/1"
LEVELS = ("shapes and sums", "the path: chain rule or algorithm", "the formula")


@dataclass(frozen=True)
class HintLadder:
    """An exercise's three hint levels; ``picture(path)`` draws level 2's PNG (optional)."""

    shapes: str
    path: str
    formula: str
    picture: Callable[[Path], Any] | None = None

    def level(self, number: int) -> str:
        """The text of level ``number`` (1, 2 or 3)."""
        return (self.shapes, self.path, self.formula)[number - 1]


def plotted(figure: str, *args: Any, **kwargs: Any) -> Callable[[Path], None]:
    """A ladder's ``picture``: ``tinycnn.plots.<figure>(*args, **kwargs, out=path)``.

    ``tinycnn.plots`` (and matplotlib) is imported only when a student opens the picture's
    level, not when the pack is loaded.
    """

    def picture(path: Path) -> None:
        from tinycnn import plots

        getattr(plots, figure)(*args, **kwargs, out=path)

    return picture


@dataclass(frozen=True)
class OpenedHint:
    """What ``open_next_hint`` opened: the level, its text, the picture written (if any)."""

    exercise: str
    level: int
    text: str
    picture: Path | None
    already_open: bool

    def __str__(self) -> str:
        title = f"{self.exercise}, hint {self.level} of 3 ({LEVELS[self.level - 1]})"
        lines = [title, *textwrap.wrap(self.text, 96, initial_indent="  ", subsequent_indent="  ")]
        if self.picture is not None:
            lines.append(f"  picture: {self.picture}")
        if self.already_open:
            lines.append("  (all three levels are open; this is the last one again)")
        elif self.level < 3:
            lines.append(f"  (run the same command again for hint {self.level + 1})")
        return "\n".join(lines)


def _read_record(folder: Path) -> dict[str, Any]:
    path = folder / HINTS_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "exercises": {}}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path} is not a hints record ({error}); delete it to start again"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} record; delete it to start again")
    return record


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".hints-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(record, file, indent=1, sort_keys=True)
            file.write("\n")
        os.chmod(temp, 0o644)  # mkstemp makes it private; the teacher reads it too
        os.replace(temp, folder / HINTS_FILE)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def hints_opened(folder: str | os.PathLike[str], name: str) -> int:
    """How many hint levels of exercise ``name`` were opened in ``folder`` (0 to 3)."""
    try:
        return int(_read_record(Path(folder))["exercises"][name]["opened"])
    except (ValueError, KeyError, TypeError):  # no record, not ours, or this one not opened
        return 0


def open_next_hint(name: str, ladder: HintLadder, folder: str | os.PathLike[str]) -> OpenedHint:
    """Open the next level of ``ladder`` for exercise ``name`` and record it in ``folder``."""
    folder = Path(folder)
    record = _read_record(folder)
    entry = record["exercises"].setdefault(name, {"opened": 0, "at": []})
    already_open = entry["opened"] >= 3
    level = 3 if already_open else entry["opened"] + 1
    if not already_open:
        entry["opened"] = level
        entry["at"].append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        _write_record(folder, record)
    picture = None
    if level == 2 and ladder.picture is not None:
        picture = folder / f"hint-{name}.png"
        ladder.picture(picture)
    return OpenedHint(name, level, ladder.level(level), picture, already_open)
