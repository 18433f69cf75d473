"""``tinycnn evaluate model.npz``: test accuracy, confusion matrix and per-class report."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = "evaluate a model file on the MNIST test set (accuracy, confusion matrix, report)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The model file and where the data comes from."""
    from tinycnn.cli.common import add_data_arguments, positive

    parser.add_argument("model", type=Path, help="a model file written by 'tinycnn train'")
    add_data_arguments(parser)
    parser.add_argument("--batch-size", type=positive(int), default=256, help="batch size")


def format_confusion(cm: np.ndarray) -> str:
    """The confusion matrix as text: rows are true classes, columns predicted classes."""
    K = cm.shape[0]
    width = max(len(str(int(cm.max()))), len(str(K - 1))) + 1
    head = "true\\pred " + "".join(f"{k:>{width}}" for k in range(K))
    rows = [f"{t:>9} " + "".join(f"{int(v):>{width}}" for v in cm[t]) for t in range(K)]
    return "\n".join([head, *rows])


def run(args: argparse.Namespace) -> int:
    """Load, predict the test set, print accuracy, confusion matrix and report."""
    from tinycnn.cli.common import load_data
    from tinycnn.model import load_model
    from tinycnn.training.metrics import accuracy, classification_report, confusion_matrix

    model = load_model(args.model)
    _, (x_test, y_test) = load_data(args)
    predicted = model.predict_classes(x_test, batch_size=args.batch_size)
    K = max(int(y_test.max()) + 1, int(predicted.max()) + 1)
    print(f"Model {args.model}: {model.count_params():,} parameters")
    print(f"Test accuracy: {accuracy(y_test, predicted):.2%} on {len(y_test):,} images\n")
    print("Confusion matrix (rows: true digit, columns: predicted digit)")
    print(format_confusion(confusion_matrix(y_test, predicted, K)))
    print()
    print(classification_report(y_test, predicted, num_classes=K), end="")
    return 0
