"""Keras-style progress output for ``fit`` and ``evaluate``.

Each epoch prints a header and, when it ends, one line::

    Epoch 3/10
    844/844 - 12s - loss: 0.1234 - accuracy: 0.9612 - val_loss: 0.0456 - val_accuracy: 0.9867

``verbose=1`` on a terminal also draws a live bar inside the epoch, redrawn in place with a
carriage return at most ten times a second; ``verbose=1`` on anything that is not a terminal
(a log file, a pipe, CI) and ``verbose=2`` print only the plain lines above, which hold no
control characters; ``verbose=0`` prints nothing. Whether the stream is a terminal is asked of
``stream.isatty()``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 30
REFRESH_SECONDS = 0.1


def format_metric(value: float) -> str:
    """Four decimals like Keras; scientific notation for very small or large magnitudes."""
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.4e}"
    return f"{value:.4f}"


def format_logs(logs: dict[str, float]) -> str:
    """``"loss: 0.1234 - accuracy: 0.9612"``."""
    return " - ".join(f"{k}: {format_metric(float(v))}" for k, v in logs.items())


def format_seconds(seconds: float) -> str:
    """``"12s"``; one decimal under ten seconds so tiny runs don't all read ``0s``."""
    return f"{seconds:.0f}s" if seconds >= 9.5 else f"{seconds:.1f}s"


def format_eta(seconds: float) -> str:
    """Remaining time as Keras shows it: ``"45s"``, ``"3:07"`` or ``"1:02:03"``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if s >= 60:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s}s"


class Progress:
    """Prints the progress of one ``fit`` or ``evaluate`` call.

    Parameters
    ----------
    verbose : {0, 1, 2}
        0 silent, 1 live bar on a terminal (plain lines elsewhere), 2 plain lines.
    stream : text stream, optional
        Where to write; ``sys.stdout`` (looked up when writing) by default.
    """

    def __init__(self, verbose: int = 1, stream: TextIO | None = None) -> None:
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self._stream = stream
        isatty = getattr(self.stream, "isatty", None)
        self.live = verbose == 1 and bool(isatty and isatty())
        self._steps = 0
        self._start = 0.0
        self._last_draw = 0.0
        self._drawn = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (e.g. "Resuming from ..."), unless silent."""
        if self.verbose:
            self._end_live_line()
            self._write(text + "\n")

    def epoch_begin(self, epoch: int, epochs: int, steps: int, first_step: int = 0) -> None:
        """Header ``Epoch e/E`` (``epoch`` is 0-based) and start the clock."""
        self.begin(steps, first_step)
        if self.verbose:
            self._write(f"Epoch {epoch + 1}/{epochs}\n")

    def begin(self, steps: int, first_step: int = 0) -> None:
        """Start timing a pass of ``steps`` batches, ``first_step`` of them already done."""
        self._steps = int(steps)
        self._first = int(first_step)
        self._start = self._last_draw = time.perf_counter()

    def batch_end(self, step: int, logs: dict[str, float]) -> None:
        """After batch ``step`` (1-based count of batches done): redraw the live bar."""
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last_draw < REFRESH_SECONDS and step < self._steps:
            return
        self._last_draw = now
        done = max(step - self._first, 1)
        eta = (now - self._start) / done * (self._steps - step)
        self._draw(f"{self._counter(step)} {self._bar(step)} - ETA: {format_eta(eta)}", logs)

    def end(self, logs: dict[str, float]) -> None:
        """The epoch's (or evaluation's) final line with the elapsed time and metrics."""
        if not self.verbose:
            return
        elapsed = format_seconds(time.perf_counter() - self._start)
        steps = f"{self._counter(self._steps)}"
        if self.live:
            self._draw(f"{steps} {self._bar(self._steps)} - {elapsed}", logs)
            self._end_live_line()
        else:
            self._write(" - ".join([steps, elapsed, format_logs(logs)]).rstrip(" -") + "\n")

    def _counter(self, step: int) -> str:
        return f"{step:>{len(str(self._steps))}}/{self._steps}"

    def _bar(self, step: int) -> str:
        filled = BAR_WIDTH * step // max(self._steps, 1)
        arrow = ">" if filled < BAR_WIDTH else ""
        return "[" + ("=" * filled + arrow).ljust(BAR_WIDTH, ".")[:BAR_WIDTH] + "]"

    def _draw(self, head: str, logs: dict[str, float]) -> None:
        line = f"{head} - {format_logs(logs)}" if logs else head
        pad = max(self._drawn - len(line), 0)
        self._write("\r" + line + " " * pad)
        self._drawn = len(line)

    def _end_live_line(self) -> None:
        if self.live and self._drawn:
            self._write("\n")
            self._drawn = 0
