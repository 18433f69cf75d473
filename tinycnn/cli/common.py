"""Helpers the commands share: data options and loading, model choice, positive numbers.

``--data DIR`` / ``--subset`` (:func:`add_data_arguments`, :func:`load_data`), the zoo's model
names (:data:`MODELS`, :func:`build_model`, :func:`model_from_spec`) and an argparse type for
numbers > 0 (:func:`positive`). Heavy imports happen inside the functions, so that
``tinycnn --help`` stays instant.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MODELS = ("cnn", "dense", "cnn_bn", "cnn_bn_deep")  # tinycnn.zoo.MODELS, without importing it


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data DIR`` and ``--subset``."""
    parser.add_argument("--data", type=Path, metavar="DIR", help="folder with the MNIST files")
    parser.add_argument(
        "--subset",
        action="store_true",
        help="use the embedded 10,000 + 2,000 image subset (quick runs, no files needed)",
    )


def load_data(args: argparse.Namespace) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` scaled to [0, 1] float32, labels int64."""
    from tinycnn.cli import CommandError
    from tinycnn.data.arrays import load_scaled

    if args.subset and args.data is not None:
        raise CommandError("give --data or --subset, not both")
    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data}: no such folder")
    return load_scaled(args.data, subset=args.subset)


def build_model(name: str, seed: int | None) -> Any:
    """A fresh zoo model: ``seed_cnn`` ("cnn"), ``dense_baseline`` ("dense"), ``seed_cnn_bn``
    ("cnn_bn") or ``deep_cnn_bn`` ("cnn_bn_deep")."""
    from tinycnn.cli import CommandError
    from tinycnn.zoo import MODELS as ZOO

    if name not in MODELS:
        raise CommandError(f"--model must be one of {', '.join(MODELS)}, got {name!r}")
    return ZOO[name](seed)


def model_from_spec(spec: str, seed: int | None = 0) -> Any:
    """ "cnn" / "dense" for a fresh model, anything else is the path of a model file."""
    from tinycnn.model import load_model

    return build_model(spec, seed) if spec in MODELS else load_model(spec)


def positive(kind: type) -> Any:
    """An argparse type accepting only numbers > 0."""

    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse
