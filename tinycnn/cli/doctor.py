"""``tinycnn doctor``: sanity checks of a model on MNIST before a long run
(``tinycnn.teach.doctor``).

Exit status 0 when no check failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse

HELP = "sanity-check a model on MNIST: initial loss, overfitting 20 examples, dead ReLUs, ..."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Which model, which data, how many examples."""
    from tinycnn.cli.common import add_data_arguments, positive

    parser.add_argument(
        "--model", default="cnn", help="cnn (default), dense, or the path of a model file"
    )
    add_data_arguments(parser)
    parser.add_argument("--samples", type=positive(int), default=256, help="examples used (256)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the model and examples")


def run(args: argparse.Namespace) -> int:
    """Print the report; 1 if a check failed."""
    from tinycnn.cli.common import load_data, model_from_spec
    from tinycnn.teach.doctor import doctor

    model = model_from_spec(args.model, args.seed)
    (x_train, y_train), _ = load_data(args)
    report = doctor(model, x_train, y_train, samples=args.samples, seed=args.seed)
    return 0 if report.ok else 1
