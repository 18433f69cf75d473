"""``tinycnn trace``: every array of one training step, with FLOPs and bytes per layer.

``tinycnn trace`` traces the seed CNN, ``tinycnn trace --model dense`` the dense baseline, and
``tinycnn trace model.npz`` a saved model. ``--batch N`` sets the batch size (default 64, as in
training). The values are random: only the shapes and costs matter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinycnn.cli import CommandError

HELP = "show the shape of every array in one training step, with FLOPs and bytes per layer"

ZOO = {"cnn": "seed_cnn", "dense": "dense_baseline"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the model choice and the batch size."""
    parser.add_argument("path", nargs="?", type=Path, help="a saved model (.npz) to trace")
    parser.add_argument(
        "--model", choices=sorted(ZOO), default=None, help="a zoo model (default: cnn)"
    )
    parser.add_argument("--batch", type=int, default=64, metavar="N", help="batch size N")


def run(args: argparse.Namespace) -> int:
    """Build or load the model, trace one step, print the report."""
    import numpy as np

    from tinycnn import zoo
    from tinycnn.model import load_model
    from tinycnn.teach.trace import trace

    if args.path is not None and args.model is not None:
        raise CommandError("give either a model file or --model, not both")
    if args.batch < 1:
        raise CommandError(f"--batch must be >= 1, got {args.batch}")
    if args.path is not None:
        model = load_model(args.path, compile=False)
    else:
        model = getattr(zoo, ZOO[args.model or "cnn"])(seed=0)
    if model.input_shape is None:
        raise CommandError(f"{args.path}: the model has no input shape to trace")
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, *model.input_shape), dtype=np.float32)
    print(trace(model, x))
    return 0
