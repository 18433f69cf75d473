"""The ``tinycnn`` command line: ``tinycnn --help`` lists the subcommands.

Each subcommand lives in ``tinycnn/cli/<name>.py`` and provides

- ``HELP``: one line for the list of subcommands,
- ``add_arguments(parser)``: its own options,
- ``run(args) -> int``: the work, returning the exit status.

Heavy imports happen inside ``run`` so that ``tinycnn --help`` stays instant.

Errors: a mistake the user can fix (a missing or unreadable file, a bad model file, an output
that cannot be written, a bad value) is printed as one line, ``tinycnn <command>: error: ...``,
with exit status 2; a failed check (``gradcheck``, ``doctor``) exits with 1. Anything else is a
bug in tinycnn: one line saying so, exit status 3, and the traceback with ``--debug`` (accepted
before or after the command name), which also shows the traceback of every other error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from tinycnn._version import __version__

# The subcommands, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "data",
    "plot",
    "trace",
    "train",
    "evaluate",
    "predict",
    "serve",
    "summary",
    "gradcheck",
    "exercises",
    "doctor",
    "bench",
    "experiment",
)


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="tinycnn",
        description=(
            "tinycnn: a convolutional neural network library written from scratch in NumPy. "
            "Run 'tinycnn <command> --help' for the options of a command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"tinycnn {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMANDS:
        module = importlib.import_module(f"tinycnn.cli.{name}")
        sub = subparsers.add_parser(
            name.replace("_", "-"), help=module.HELP, description=module.HELP
        )
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinycnn`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except (CommandError, OSError, ValueError, MemoryError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"tinycnn {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinycnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug in tinycnn, not in the user's input
        if args.debug:
            traceback.print_exc()
        print(
            f"tinycnn {args.command}: internal error (a bug in tinycnn): "
            f"{type(error).__name__}: {_one_line(error)}; rerun with --debug for the traceback",
            file=sys.stderr,
        )
        return 3


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, MemoryError):
        text = f"out of memory ({text})"
    return " ".join(text.split())[:2000]


def check_output(path: Path, option: str = "--out") -> None:
    """Refuse an output path that cannot be written, before any long work.

    Raises
    ------
    CommandError
        ``path`` is a folder, its folder does not exist, or a file cannot be created there
        (found by creating and removing a temporary file, which also works for root).
    """
    if path.is_dir():
        raise CommandError(f"{option} {path}: is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"{option} {path}: the file is not writable")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise CommandError(
            f"{option} {path}: cannot write in {folder} ({error.strerror})"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
