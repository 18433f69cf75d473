"""Train the model that ``tinycnn serve`` uses when no model file is given.

    python scripts/make_default_model.py [--data FOLDER] [--epochs 3] [--out PATH]

The seed CNN (225,034 float32 parameters, a ~0.9 MB file) is trained with Adam on full MNIST
when it can be found (``TINYCNN_DATA_DIR``, the cache, or ``--data``), else on the embedded
10,000-image subset, with small random rotations, shifts and zooms so that hand-drawn digits,
which are never as tidy as MNIST's, are still recognised. The test accuracy is printed and the
file written to ``tinycnn/serve/default_model.npz`` (atomically, by ``save_model``).
Everything is seeded: the same data and the same tinycnn give the same file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tinycnn.data.arrays import scale_images
from tinycnn.data.mnist import load_mnist, load_mnist_or_subset
from tinycnn.saving.io import save_model
from tinycnn.serve.default_model import DEFAULT_MODEL_PATH
from tinycnn.training.augment import Augmenter
from tinycnn.training.loop import evaluate, fit
from tinycnn.zoo import seed_cnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder with the MNIST files")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args()

    loader = load_mnist if args.data is not None else load_mnist_or_subset
    (x_train, y_train), (x_test, y_test) = loader(args.data)
    model = seed_cnn(seed=args.seed)
    model.compile(optimizer="adam")
    augmenter = Augmenter(rotation_range=12.0, shift_range=0.08, zoom_range=0.1)
    started = time.perf_counter()
    fit(
        model,
        scale_images(x_train),
        y_train,
        epochs=args.epochs,
        batch_size=64,
        seed=args.seed,
        augment=augmenter,
        verbose=2,
    )
    scores = evaluate(model, scale_images(x_test), y_test, return_dict=True)
    save_model(model, args.out)
    print(
        f"trained on {len(x_train)} images in {time.perf_counter() - started:.0f} s; "
        f"test accuracy {scores['accuracy']:.4f} on {len(x_test)} images; "
        f"wrote {args.out} ({args.out.stat().st_size:,} bytes, "
        f"{np.sum([w.size for w in model.get_weights()]):,} parameters)"
    )


if __name__ == "__main__":
    main()
