"""The parent's side of the grader's isolation: a child process per student's file, with limits.

``Sandbox`` keeps a fork server (``child.py``, started with ``python -I``; NumPy and tinycnn
imported once). ``Sandbox.open(files, ...)`` forks a fresh process for one student: it gets a
temporary folder holding a copy of the files, a Unix socket to the parent, and limits (CPU
seconds, memory, file size; ``resource`` where the OS has it). ``Session.call`` sends inputs and
waits for the outputs no longer than the time left: on a timeout the process group is killed.
Whatever ends the student's code early (a timeout, an exit of any status or any way, a signal,
``KeyboardInterrupt``, running out of memory) raises ``ChildGoneError`` with a one-line reason; the
process is gone after it, and every later call raises it again at once.

Nothing the child sends is unpickled or run: messages are ``wire`` frames.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tinycnn
from tinycnn.teach.exercises.wire import FrameReader, WireError, write_frame

__all__ = ["ChildGoneError", "Limits", "Sandbox", "Session", "StudentFile"]

CHILD = Path(__file__).with_name("child.py")
ROOT = Path(tinycnn.__file__).resolve().parent.parent
START_SECONDS = 120.0  # the fork server's first imports on a busy machine


class ChildGoneError(Exception):
    """The student's process ended before answering; ``reason`` says how, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """What one student's process may use: memory above the interpreter's own, file size, and
    CPU seconds in all (the wall-clock limit is per check: ``Session.call``'s ``deadline``)."""

    memory_mb: int = 2048
    file_mb: int = 64
    cpu_seconds: float = 3600.0


@dataclass(frozen=True)
class StudentFile:
    """One file the child loads: which exercise's, the text, and the path the student knows."""

    exercise: str
    text: str
    display: Path


class Sandbox:
    """A fork server for student processes; ``close()`` (or ``with``) stops it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.reader: FrameReader | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(CHILD), str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the parent only
        )
        assert self.process.stdout is not None
        self.reader = FrameReader(self.process.stdout.fileno())
        message = self._receive(START_SECONDS)
        if message.get("op") != "ready":
            raise RuntimeError(f"the grader's fork server did not start: {message}")

    def _receive(self, seconds: float) -> dict:
        assert self.reader is not None
        return self.reader.read(time.monotonic() + seconds)

    def fork(self, command: dict) -> int:
        """Start one student's process; its pid. A fork server that does not answer (killed,
        say, by the system running out of memory) is replaced once."""
        for _ in range(2):
            if self.process is None or self.process.poll() is not None:
                self._start()
            assert self.process is not None and self.process.stdin is not None
            try:
                write_frame(self.process.stdin.fileno(), command, time.monotonic() + 30)
                message = self._receive(30)
                if message.get("op") == "forked":
                    return int(message["pid"])
            except (TimeoutError, WireError):
                pass
            self.close()
        raise RuntimeError("the grader's fork server failed twice in a row")

    def exit_code(self, pid: int, seconds: float = 10.0) -> int | None:
        """The student's process's exit code (negative: killed by that signal), once it ends."""
        try:
            message = self._receive(seconds)
        except (TimeoutError, WireError):
            self.close()  # the fork server is in an unknown state: start a fresh one next time
            return None
        return int(message["code"]) if message.get("pid") == pid else None

    def close(self) -> None:
        """Stop the fork server (and whatever child it still waits for)."""
        if self.process is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()
            self.process = None

    def open(
        self,
        files: Sequence[StudentFile],
        functions: Sequence[str],
        allowed: dict[str, list[str]],
        harness: Path | None = None,
        limits: Limits = Limits(),
    ) -> Session:
        """A fresh process that has loaded ``files`` (the first is the student's main file)."""
        return Session(self, files, functions, allowed, harness, limits)


class Session:
    """One student's process: ``call`` a function of the main file, then ``close``."""

    def __init__(self, sandbox, files, functions, allowed, harness, limits: Limits) -> None:
        self.sandbox, self.limits = sandbox, limits
        self.gone: str | None = None
        self.root = Path(tempfile.mkdtemp(prefix="tinycnn-grade-"))
        self.connection: socket.socket | None = None
        try:
            self._start(files, functions, allowed, harness)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _start(self, files, functions, allowed, harness) -> None:
        limits, sandbox = self.limits, self.sandbox
        work = self.root / "work"
        work.mkdir()
        copies = []
        for file in files:
            copy = work / file.display.name
            copy.write_text(file.text, encoding="utf-8")
            copies.append(
                {"exercise": file.exercise, "path": str(copy), "display": str(file.display)}
            )
        self.main = files[0].exercise
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.root / "s"))
        listener.listen(1)
        self.pid = sandbox.fork(
            {
                "socket": str(self.root / "s"),
                "output": str(self.root / "output.txt"),
                "limits": {
                    "memory_bytes": limits.memory_mb * 2**20,
                    "file_bytes": limits.file_mb * 2**20,
                    "cpu_seconds": limits.cpu_seconds,
                },
            }
        )
        self.connection = self._accept(listener)
        self.reader = FrameReader(self.connection.fileno())
        self.load_message = {
            "op": "load",
            "workdir": str(work),
            "files": copies,
            "main": self.main,
            "functions": list(functions),
            "allowed": allowed,
            "harness": str(harness) if harness else None,
        }

    def load(self, seconds: float) -> dict:
        """Load the files in the child; its answer (``loaded``, ``missing``, ``raised``, ...)."""
        return self._exchange(self.load_message, time.monotonic() + seconds)

    def _accept(self, listener: socket.socket) -> socket.socket:
        try:
            if not select.select([listener], [], [], 30)[0]:
                self._end("did not start")
            connection, _ = listener.accept()
            connection.setblocking(False)
            return connection
        finally:
            listener.close()

    def call(
        self,
        name: str,
        args: tuple,
        kwargs: dict,
        seconds: float,
        shared: bool = False,
        harness: bool = False,
        sync: Callable[[list], None] | None = None,
    ) -> tuple[Any, float]:
        """``(reply, seconds used)`` of one call (callbacks run here, their time not counted)."""
        callbacks: list[Callable] = []
        message = {"op": "call", "name": name, "args": args, "kwargs": kwargs, "main": self.main}
        message |= {"shared": shared, "harness": harness}
        used, started = 0.0, time.monotonic()
        reply = self._exchange(message, started + seconds, callbacks)
        while reply.get("op") == "callback":
            used += time.monotonic() - started
            if sync is not None:
                sync(reply["shared"])  # the student's in-place changes, before the callback reads
            value = callbacks[reply["id"]](*reply["args"])
            started = time.monotonic()
            reply = self._exchange(
                {"op": "return", "value": value}, started + seconds - used, callbacks, reply
            )
        return reply, used + time.monotonic() - started

    def _exchange(self, message, deadline, callbacks=None, callback_message=None) -> dict:
        """Send ``message``, wait for the answer until ``deadline``; ChildGoneError if it ends."""
        if self.gone is not None:
            raise ChildGoneError(self.gone)
        assert self.connection is not None
        try:
            write_frame(self.connection.fileno(), message, deadline, callbacks)
            return self.reader.read(deadline)
        except TimeoutError:
            self._end("timeout")
        except WireError:
            self._end("ended")
        raise AssertionError("unreachable")

    def _end(self, how: str) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        code = self.sandbox.exit_code(self.pid)
        self.gone = _reason(how, code, self.limits)
        raise ChildGoneError(self.gone)

    def close(self) -> None:
        """End the student's process and delete its folder."""
        if self.gone is None and self.connection is not None:
            with contextlib.suppress(WireError, TimeoutError, OSError):
                write_frame(self.connection.fileno(), {"op": "bye"}, time.monotonic() + 5)
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            self.sandbox.exit_code(self.pid)
            self.gone = "closed"
        if self.connection is not None:
            self.connection.close()
        for folder, _, _ in os.walk(self.root):  # in case the student's code made one read-only
            with contextlib.suppress(OSError):
                os.chmod(folder, 0o700)
        shutil.rmtree(self.root, ignore_errors=True)

    def output(self) -> str:
        """What the student's code printed (the last 2,000 characters)."""
        try:
            return (self.root / "output.txt").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def _reason(how: str, code: int | None, limits: Limits) -> str:
    """One line: how the student's process ended."""
    if how == "timeout":
        return "TIMEOUT"  # the caller knows the limit and the check
    if code is None:
        return "your code stopped answering (its process could not be waited for)"
    if code >= 0:
        return f"your code exited with status {code} before returning"
    number = -code
    if number == signal.SIGXCPU:
        return f"your code used more than {limits.cpu_seconds:g} s of CPU time"
    if number == signal.SIGKILL:
        return f"your code was killed (signal SIGKILL; memory limit {limits.memory_mb} MB)"
    return f"your code was killed by signal {signal.Signals(number).name}"
