"""The ``tinycnn`` command line: ``tinycnn --help`` lists the subcommands.

Each subcommand lives in ``tinycnn/cli/<name>.py`` and provides

- ``HELP``: one line for the list of subcommands,
- ``add_arguments(parser)``: its own options,
- ``run(args) -> int``: the work, returning the exit status.

Heavy imports happen inside ``run`` so that ``tinycnn --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMANDS:
        module = importlib.import_module(f"tinycnn.cli.{name}")
        sub = subparsers.add_parser(
            name.replace("_", "-"), help=module.HELP, description=module.HELP
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
    except (CommandError, FileNotFoundError, ValueError) as error:
        print(f"tinycnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinycnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
