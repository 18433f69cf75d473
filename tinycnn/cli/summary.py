"""``tinycnn summary [--model cnn|dense|FILE]``: the Keras-style table of a model's layers."""

from __future__ import annotations

import argparse

HELP = "print the layer table of the seed CNN, the dense baseline or a model file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which model."""
    parser.add_argument(
        "--model", default="cnn", help="cnn (default), dense, or the path of a model file"
    )


def run(args: argparse.Namespace) -> int:
    """Print ``model.summary()``."""
    from tinycnn.cli.common import model_from_spec

    model_from_spec(args.model).summary()
    return 0
