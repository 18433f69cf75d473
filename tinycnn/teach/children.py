"""The runs of a grid as child processes that Ctrl-C stops at once.

Each child is started in its own process group (a new session), so the terminal's Ctrl-C
reaches only the parent, which then decides: it stops every running child's whole group
(``SIGTERM``, then ``SIGKILL`` after ``GRACE`` seconds), starts no queued one, and lets the
``KeyboardInterrupt`` go on. A child writes its result file atomically when it finishes, so a
stopped child leaves nothing half-written and the finished runs are kept: rerunning the grid
trains only the others.

A child that fails is reported as one line naming the run, with the last line of its error
output (the exception), never its whole traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import IO, Any

GRACE = 1.0  # seconds between SIGTERM and SIGKILL
POLL = 0.05  # seconds between looks at the running children


class RunError(RuntimeError):
    """A run's child process failed; the message is one line naming the run."""


def run_children(
    todo: list[dict[str, Any]],
    command: Callable[[dict[str, Any]], list[str]],
    jobs: int,
    env: dict[str, str],
    done: Callable[[dict[str, Any]], None],
) -> None:
    """Run ``command(spec)`` for every spec, ``jobs`` at a time; ``done(spec)`` after each.

    Raises
    ------
    RunError
        When a child exits with an error (the others are stopped).
    KeyboardInterrupt
        Ctrl-C: the running children are stopped, queued ones never start.
    """
    queue = list(todo)
    running: dict[subprocess.Popen, tuple[dict[str, Any], IO[bytes]]] = {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                spec = queue.pop(0)
                errors: IO[bytes] = tempfile.TemporaryFile()
                child = subprocess.Popen(
                    command(spec), env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
                )  # fmt: skip
                running[child] = (spec, errors)
            time.sleep(POLL)
            for child in [c for c in running if c.poll() is not None]:
                spec, errors = running.pop(child)
                if child.returncode != 0:
                    raise RunError(
                        f"run {spec['config']!r}, seed {spec['seed']} failed: "
                        f"{last_error_line(errors, child.returncode)}"
                    )
                errors.close()
                done(spec)
    finally:
        stop(running)


def stop(running: dict[subprocess.Popen, tuple[dict[str, Any], IO[bytes]]]) -> None:
    """Stop every child's process group: SIGTERM, then SIGKILL after ``GRACE`` seconds."""
    for child in running:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    for child in running:
        try:
            child.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
    for _, errors in running.values():
        errors.close()
    running.clear()


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)  # the child leads its own group (a new session)
    except ProcessLookupError:  # already gone
        pass


def last_error_line(errors: IO[bytes], returncode: int) -> str:
    """The last non-empty line a child wrote to stderr, or how it ended."""
    errors.seek(0, os.SEEK_END)
    errors.seek(max(errors.tell() - 20_000, 0))
    text = errors.read().decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        return lines[-1][:500]
    if returncode < 0:
        return f"killed by signal {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"
