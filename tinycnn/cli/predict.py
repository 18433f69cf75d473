"""``tinycnn predict model.npz image.png ...``: the top classes of each picture of a digit.

Each picture (PNG, JPEG, any size, dark-on-light or light-on-dark) is first made MNIST-style:
grey, inverted if its background is light, cropped to the ink, fitted into 20x20 and centred by
mass in 28x28 (see ``tinycnn.data.pictures``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = "predict the digit in picture files (MNIST-style preprocessing, top-3 probabilities)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The model file, the pictures, how many classes to show."""
    from tinycnn.cli.common import positive

    parser.add_argument("model", type=Path, help="a model file written by 'tinycnn train'")
    parser.add_argument("images", type=Path, nargs="+", help="picture files (PNG, JPEG, ...)")
    parser.add_argument("--top", type=positive(int), default=3, help="classes to show (3)")


def run(args: argparse.Namespace) -> int:
    """Print one line per picture: ``digit.png: 7 (97.1%)  1 (1.9%)  9 (0.4%)``."""
    from tinycnn.data.pictures import preprocess_image
    from tinycnn.model import load_model

    model = load_model(args.model)
    images = np.stack([preprocess_image(path) for path in args.images])  # (N, 28, 28, 1)
    probabilities = model.predict(images)
    top = min(args.top, probabilities.shape[1])
    for path, p in zip(args.images, probabilities, strict=True):
        best = np.argsort(-p, kind="stable")[:top]
        print(f"{path}: " + "  ".join(f"{k} ({p[k]:.1%})" for k in best))
    return 0
