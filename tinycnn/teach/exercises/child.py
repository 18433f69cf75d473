"""The child's side of the grader: a fork server, and the process a student's code runs in.

Run by path, never imported: ``python -I child.py ROOT`` (``-I``: isolated mode, no user site,
no ``PYTHON*`` variables, no current folder on ``sys.path``; ``ROOT`` is the folder holding the
parent's ``tinycnn``, put on ``sys.path`` so that the child imports the same library). It imports
NumPy and tinycnn once, then waits on stdin for ``fork`` commands (``wire`` frames). For each it
forks a fresh process for one student's file and reports on stdout when that process ended
(``forked`` with its pid, then ``exited`` with its status or signal): every student gets a new
process, and none pays for the interpreter's start.

The forked process (``serve``) talks to the parent through a Unix socket of its own, sets its
limits (CPU seconds, memory, file size, no core files), works in a temporary folder holding a
copy of the student's files, loads them (imports of tinycnn's answers refused), and then only
answers ``call`` messages: it calls the student's function on the inputs sent and sends back
what came out, or how the call ended (an exception with the student's own lines of the
traceback, ``sys.exit``, ``KeyboardInterrupt``, out of memory). It never compares anything: the
parent decides every verdict.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.util
import os
import resource
import signal
import socket
import sys
import traceback
import warnings
from pathlib import Path
from types import ModuleType


def _load_wire() -> ModuleType:
    path = Path(__file__).with_name("wire.py")
    spec = importlib.util.spec_from_file_location("_tinycnn_grader_wire", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()


def main(root: str) -> None:
    """The fork server's loop: one ``fork`` command, one child, its exit status."""
    sys.path.insert(0, root)
    import numpy  # noqa: F401  (imported once, before any fork)

    with contextlib.suppress(ImportError):
        import tinycnn  # noqa: F401
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal reaches the parent
    commands = wire.FrameReader(0)
    wire.write_frame(1, {"op": "ready"})
    while True:
        try:
            command = commands.read()
        except wire.WireError:
            return  # the parent closed our stdin: it is done
        pid = os.fork()
        if pid == 0:
            try:
                serve(command)
            finally:
                os._exit(0)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        wire.write_frame(1, {"op": "forked", "pid": pid})
        _, status = os.waitpid(pid, 0)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # whatever the student's code started
        code = os.waitstatus_to_exitcode(status)
        wire.write_frame(1, {"op": "exited", "pid": pid, "code": code})


def serve(command: dict) -> None:
    """One student's process: connect, limit, load, then answer calls until ``bye``."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(command["socket"])
    _redirect_stdio(command["output"])
    _limit(command["limits"])
    channel = Channel(connection.fileno(), connection.fileno())
    load = channel.receive()
    os.chdir(load["workdir"])
    student = Student(load, channel)
    channel.send(student.load())
    while True:
        message = channel.receive()
        if message.get("op") != "call":
            return
        channel.send(student.call(message))


def _redirect_stdio(output: str) -> None:
    """stdin from /dev/null; the student's prints into a file (never into the message pipes)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115


def _limit(limits: dict) -> None:
    """CPU seconds, memory (address space above what is mapped now), file size, no core dump."""
    wanted = {
        "RLIMIT_CPU": limits.get("cpu_seconds"),
        "RLIMIT_FSIZE": limits.get("file_bytes"),
        "RLIMIT_CORE": 0,
    }
    memory = limits.get("memory_bytes")
    if memory:
        wanted["RLIMIT_AS"] = _mapped_bytes() + memory
    for name, value in wanted.items():
        if value is None or not hasattr(resource, name):
            continue
        which = getattr(resource, name)
        with contextlib.suppress(ValueError, OSError):  # where the OS does not have it
            _, hard = resource.getrlimit(which)
            value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(which, (value, hard if name != "RLIMIT_CPU" else value + 2))


def _mapped_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Channel:
    """Frames to and from the parent, with callbacks into the parent served while waiting."""

    def __init__(self, inbox: int, outbox: int) -> None:
        self.reader = wire.FrameReader(inbox)
        self.outbox = outbox
        self.shared: list = []  # the current call_shared's arrays, sent with every callback

    def send(self, message: dict) -> None:
        wire.write_frame(self.outbox, message)

    def receive(self) -> dict:
        return self.reader.read(callback=self.stand_in)

    def stand_in(self, key: int):
        """A function that runs the parent's callback ``key`` and returns what it returned."""

        def callback(*args):
            self.send({"op": "callback", "id": key, "args": args, "shared": self.shared})
            reply = self.receive()
            if reply.get("op") != "return":
                os._exit(3)  # the parent ended the call
            return reply["value"]

        return callback


class BorrowedImportError(ImportError):
    """An import of tinycnn that the exercise's handout does not make."""


class Student:
    """The student's modules in this process, and their calls."""

    def __init__(self, load: dict, channel: Channel) -> None:
        self.load_message, self.channel = load, channel
        self.modules: dict[str, ModuleType] = {}
        self.display = {f["path"]: f["display"] for f in load["files"]}
        self.harness: ModuleType | None = None

    def load(self) -> dict:
        """Load the harness (ours), then guard imports and run every student file."""
        message = self.load_message
        if message.get("harness"):
            harness = message["harness"]
            self.harness = _exec_file(Path(harness), "_tinycnn_harness", harness)
        _guard_imports({m: set(names) for m, names in message["allowed"].items()})
        for number, file in enumerate(message["files"]):
            try:
                self.modules[file["exercise"]] = _exec_file(
                    Path(file["path"]), f"_student_{number}", file["display"]
                )
            except BaseException as error:  # the student's module, whatever it raises
                return self.ending(error, f"while loading {Path(file['display']).name}")
        main = self.modules[message["main"]]
        missing = [f for f in message["functions"] if not callable(getattr(main, f, None))]
        if missing:
            return {"op": "missing", "functions": missing}
        return {"op": "loaded"}

    def call(self, message: dict) -> dict:
        """Run one function on the inputs sent; the outputs or how it ended."""
        args, kwargs = message["args"], message.get("kwargs", {})
        if message.get("harness"):
            function = getattr(self.harness, message["name"])
            args = (self.modules.__getitem__, *args)
        else:
            function = getattr(self.modules[message["main"]], message["name"])
        self.channel.shared = list(args) if message.get("shared") else []
        try:
            with warnings.catch_warnings(), _quiet_numpy():
                warnings.simplefilter("ignore")
                value = function(*args, **kwargs)
        except BaseException as error:  # the student's code, whatever it raises
            return self.ending(error, "")
        return {"op": "return", "value": value, "shared": self.channel.shared}

    def ending(self, error: BaseException, where: str) -> dict:
        """How the student's code ended, in a message (never a traceback of ours)."""
        if isinstance(error, NotImplementedError):
            return {"op": "not_started", "text": str(error)}
        if isinstance(error, SystemExit):
            code = error.code if isinstance(error.code, (int, type(None))) else str(error.code)
            return {"op": "exit", "code": 0 if code is None else code, "where": where}
        if isinstance(error, BorrowedImportError):
            return {"op": "borrowed", "text": str(error)}
        kinds = {MemoryError: "memory", KeyboardInterrupt: "interrupt"}
        kind = next((k for t, k in kinds.items() if isinstance(error, t)), "exception")
        frames = [
            traceback.FrameSummary(self.display[f.filename], f.lineno, f.name, line=f.line)
            for f in traceback.extract_tb(error.__traceback__)
            if f.filename in self.display
        ]
        lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
        return {"op": "raised", "kind": kind, "text": "".join(lines).rstrip(), "where": where}


@contextlib.contextmanager
def _quiet_numpy():
    import numpy as np

    with np.errstate(all="ignore"):
        yield


def _exec_file(path: Path, name: str, display: str) -> ModuleType:
    """Run the file at ``path`` as a fresh module; tracebacks name ``display``'s text lines."""
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and pickle-free introspection look modules up
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
    exec(code, module.__dict__)
    return module


def _guard_imports(allowed: dict[str, set[str]]) -> None:
    """Refuse, in the student's modules, any import of tinycnn the handout does not make."""
    original, original_import_module = builtins.__import__, importlib.import_module

    def check(name: str, fromlist) -> None:
        if not (name == "tinycnn" or name.startswith("tinycnn.")):
            return
        names = set(fromlist or ())
        if name in allowed and names <= allowed[name]:
            return
        what = f"{', '.join(sorted(names))} from {name}" if names else name
        raise BorrowedImportError(f"importing {what} is not allowed in this exercise")

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):
        student = str((globals or {}).get("__name__", "")).startswith("_student_")
        if student and level == 0:
            check(name, fromlist)
        return original(name, globals, locals, fromlist, level)

    def guarded_import_module(name, package=None):
        if str(sys._getframe(1).f_globals.get("__name__", "")).startswith("_student_"):
            check(name, ())
        return original_import_module(name, package)

    builtins.__import__ = guarded
    importlib.import_module = guarded_import_module


if __name__ == "__main__":
    main(sys.argv[1])
