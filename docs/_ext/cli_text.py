"""The help texts of the ``tinycnn`` command line, as ``tinycnn <command> --help`` prints them.

Used by the ``tinycnn-cli`` directive (``cli_help.py``); kept free of Sphinx so that
``tests/documentation/test_docs.py`` can check it.
"""

from __future__ import annotations

import argparse
import os

WIDTH = "88"  # columns argparse wraps help text to (it reads COLUMNS)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of ``parser`` by name (empty if it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def with_nested(title: str, parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """``parser``'s help, then that of its own subcommands (``tinycnn data info``), depth first."""
    texts = [(title, parser.format_help())]
    for name, child in subcommands(parser).items():
        texts += with_nested(f"{title} {name}", child)
    return texts


def help_texts() -> list[tuple[str, str]]:
    """``[("tinycnn", text), ("tinycnn train", text), ...]`` in COMMANDS order."""
    from tinycnn.cli import COMMANDS, build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        texts = [("tinycnn", parser.format_help())]
        commands = subcommands(parser)
        for name in COMMANDS:
            command = name.replace("_", "-")
            texts += with_nested(f"tinycnn {command}", commands[command])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return texts
