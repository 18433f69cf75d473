"""Train the seed CNN in tinycnn and in Keras side by side and print the two loss curves.

Both start from the same initial weights (tinycnn's, copied into the Keras twin made by
``tinycnn.interop.to_keras``), see the same batches in the same order (the training set in
its
file order, or a fixed permutation with ``--shuffle-seed``) and take Adam steps with the same
hyperparameters. Dropout is disabled in both (rate 0) unless ``--keep-dropout`` is given: two
libraries cannot draw the same random masks, so with dropout the curves agree only
statistically.

Each side is a plain training loop: tinycnn's ``forward(logits=True)`` / ``SoftmaxCrossEntropy``
/ ``backward`` / ``Adam.update``; Keras's ``tf.GradientTape`` with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``keras.optimizers.Adam`` inside a
``tf.function``. The loss printed for a step is that batch's loss before its update.

Usage::

    python tests/benchmarks/compare_keras_training.py                 # one full epoch (938 steps)
    python tests/benchmarks/compare_keras_training.py --steps 100     # the first 100 steps
    python tests/benchmarks/compare_keras_training.py --subset 6400   # first 6,400 images only

Expect agreement to ~1e-6 at first. In float32 the curves part slowly once rounding puts a ReLU
input or a max-pool window on the other side of its kink (the weights then differ by up to ~lr
in a few places and evolve on their own); the final accuracy and the shape of the curves do not
change. ``tests/reference/test_training_parity.py`` shows the float64 runs agree to ~1e-15.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

from tinycnn.data import load_mnist, load_mnist_or_subset, scale_images
from tinycnn.interop import to_keras
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.zoo import seed_cnn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--subset", type=int, default=None, help="use the first N images only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--shuffle-seed", type=int, default=None, help="fixed batch permutation")
    parser.add_argument("--keep-dropout", action="store_true", help="keep Dropout(0.5) in both")
    parser.add_argument("--every", type=int, default=None, help="print every k-th step")
    parser.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    return parser.parse_args(argv)


def training_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Scaled float32 images and int labels, in the order the batches will use."""
    if args.data is not None:
        (x, y), _ = load_mnist(args.data)
    else:
        (x, y), _ = load_mnist_or_subset()
    if args.subset is not None:
        x, y = x[: args.subset], y[: args.subset]
    if args.shuffle_seed is not None:
        order = np.random.default_rng(args.shuffle_seed).permutation(len(y))
        x, y = x[order], y[order]
    return scale_images(x), y.astype(np.int64)


def make_models(args: argparse.Namespace) -> tuple[Sequential, Any]:
    """The seed CNN (dropout rate 0 unless kept) and its Keras logits twin, same weights."""
    model = seed_cnn(seed=args.seed)
    if not args.keep_dropout:
        config = model.get_config()
        for spec in config["layers"]:
            if spec["class_name"] == "Dropout":
                spec["config"]["rate"] = 0.0
        weights = model.get_weights()
        model = Sequential.from_config(config)
        model.set_weights(weights)
    return model, to_keras(model, logits=True)


def train_tinycnn(model: Sequential, batches: list, learning_rate: float) -> np.ndarray:
    loss_fn, opt, losses = SoftmaxCrossEntropy(), Adam(learning_rate), []
    for xb, yb in batches:
        losses.append(loss_fn.forward(model.forward(xb, training=True, logits=True), yb))
        model.backward(loss_fn.backward())
        triples = model.params_and_grads()
        opt.update([p for _, p, _ in triples], [g for _, _, g in triples])
    return np.array(losses, dtype=np.float64)


def train_keras(keras_model: Any, batches: list, learning_rate: float) -> np.ndarray:
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = keras.optimizers.Adam(learning_rate=learning_rate)
    variables = keras_model.trainable_variables

    @tf.function
    def step(xb: Any, yb: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, keras_model(xb, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return np.array([float(step(xb, yb)) for xb, yb in batches], dtype=np.float64)


def report(losses_t: np.ndarray, losses_k: np.ndarray, every: int) -> None:
    """The two curves side by side, then the largest differences."""
    print(f"{'step':>6} {'tinycnn':>12} {'keras':>12} {'abs diff':>10} {'rel diff':>10}")
    for i in range(0, len(losses_t), every):
        diff = abs(losses_t[i] - losses_k[i])
        print(f"{i + 1:>6} {losses_t[i]:>12.7f} {losses_k[i]:>12.7f} {diff:>10.2e} "
              f"{diff / abs(losses_k[i]):>10.2e}")  # fmt: skip
    diffs = np.abs(losses_t - losses_k)
    worst = int(np.argmax(diffs))
    print(f"max |loss difference| {diffs[worst]:.3e} at step {worst + 1} "
          f"(relative {np.max(diffs / np.abs(losses_k)):.3e}); steps {len(losses_t)}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    x, y = training_data(args)
    B = args.batch_size
    n_steps = (len(y) + B - 1) // B if args.steps is None else min(args.steps, -(-len(y) // B))
    batches = [(x[b * B : (b + 1) * B], y[b * B : (b + 1) * B]) for b in range(n_steps)]
    model, keras_model = make_models(args)
    dropout = "kept (rate 0.5; masks differ)" if args.keep_dropout else "disabled (rate 0 in both)"
    print(f"seed CNN, {n_steps} steps of {B}, Adam lr {args.learning_rate}, dropout {dropout}")
    start = time.perf_counter()
    losses_t = train_tinycnn(model, batches, args.learning_rate)
    seconds_t, start = time.perf_counter() - start, time.perf_counter()
    losses_k = train_keras(keras_model, batches, args.learning_rate)
    seconds_k = time.perf_counter() - start
    report(losses_t, losses_k, args.every or max(1, n_steps // 25))
    weight_diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(model.get_weights(), keras_model.get_weights(), strict=True)
    )
    print(f"final weights: max |difference| {weight_diff:.3e}")
    print(
        f"time: tinycnn {seconds_t:.1f} s, keras {seconds_k:.1f} s (including tf.function tracing)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
