"""The accuracy protocol run in Keras: what Keras itself reaches with the same recipe.

An independent measurement for ``bench_accuracy.py`` (the acceptance numbers of issue 6), with
the same protocol: full MNIST, pixels scaled to [0, 1] by ``tinycnn.data.scale_images``, the seed
CNN (or ``--model dense``, the dense baseline) of ``tinycnn.zoo``, Adam with learning rate 1e-3
(beta_1 0.9, beta_2 0.999, epsilon 1e-7: tinycnn's defaults are Keras's), batch size 64, 10
epochs, 10% of the training set held out for validation with tinycnn's own stratified seeded
split (``tinycnn.data.stratified_split``, called as ``tinycnn.training.loop.fit`` calls it, so each
seed holds out the same images as in tinycnn), shuffling every epoch, five seeds 0-4. Each run is
evaluated once on the 10,000 test images after the last epoch; the script prints every run and
the median, minimum and maximum, with the versions and the machine. As in ``bench_accuracy.py``,
a secondary figure, not the protocol's, scores the weights of each run's best-val_accuracy epoch.

The Keras model is the twin that ``tinycnn.interop.to_keras`` builds (same layers, ending in
logits, trained with ``SparseCategoricalCrossentropy(from_logits=True)`` as tinycnn trains on
the logits), re-created from its config so that Keras draws fresh weights with its own default
initialisers (glorot_uniform kernels, zero biases). ``keras.utils.set_random_seed(seed)`` fixes
those weights, the dropout masks and Keras's shuffling; only the split comes from tinycnn. With
``--init tinycnn`` the Keras model starts from tinycnn's seeded weights instead.

Usage::

    python tests/benchmarks/bench_accuracy_keras.py                  # the full protocol
    python tests/benchmarks/bench_accuracy_keras.py --model dense
    python tests/benchmarks/bench_accuracy_keras.py --epochs 1 --seeds 1   # a quick check

``--threads`` (default: $TF_NUM_INTRAOP_THREADS, else 1; 0 lets TensorFlow choose) sets
TensorFlow's intra- and inter-op thread pools.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
from bench_accuracy import data_folder, machine  # the sibling script, run from this folder


def versions(tf: Any, keras: Any) -> str:
    import tinycnn

    return (
        f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()} (data and split: tinycnn {tinycnn.__version__})"
    )


def set_threads(tf: Any, threads: int) -> None:
    """Size TensorFlow's thread pools; must run before TensorFlow executes anything."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def keras_model(keras: Any, model_name: str, seed: int, init: str) -> Any:
    """The Keras twin of the zoo model (logits out), with Keras's or tinycnn's initial weights."""
    from tinycnn.interop import to_keras
    from tinycnn.zoo import dense_baseline, seed_cnn

    tiny = seed_cnn(seed) if model_name == "cnn" else dense_baseline(seed)
    twin = to_keras(tiny, logits=True)
    keras.utils.set_random_seed(seed)
    if init == "tinycnn":
        return twin
    # from_config makes new layers: the default initialisers draw new weights.
    return keras.Sequential.from_config(twin.get_config())


def best_epoch_keeper(keras: Any) -> Any:
    """A callback that keeps a copy of the weights of the epoch with the best val_accuracy."""

    class BestEpoch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best, self.epoch, self.weights = -1.0, -1, None

        def on_epoch_end(self, epoch, logs=None):
            if logs and logs.get("val_accuracy", -1.0) > self.best:
                self.best, self.epoch = logs["val_accuracy"], epoch
                self.weights = self.model.get_weights()

    return BestEpoch()


def split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple:
    """``(x_train, y_train), (x_val, y_val)``: the rows ``tinycnn.training.loop.fit`` would use."""
    from tinycnn.data import stratified_split

    if not fraction:
        return (x, y), None
    (train_index, _), (val_index, _) = stratified_split(np.arange(len(y)), y, fraction, seed)
    return (x[train_index], y[train_index]), (x[val_index], y[val_index])


def one_run(keras: Any, seed: int, args: argparse.Namespace, data: tuple) -> tuple:
    """Train one seed; (test accuracy after the last epoch, and of the best-validation epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    (x_fit, y_fit), validation = split(x_train, y_train, args.validation_split, seed)
    model = keras_model(keras, args.model, seed, args.init)
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    keeper = best_epoch_keeper(keras)
    start = time.perf_counter()
    model.fit(
        x_fit, y_fit, epochs=args.epochs, batch_size=args.batch_size, validation_data=validation,
        shuffle=True, verbose=args.verbose, callbacks=[keeper],
    )  # fmt: skip
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    best = accuracy
    if keeper.weights is not None:
        model.set_weights(keeper.weights)
        _, best = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(
        f"seed {seed}: test accuracy {accuracy:.2%}  ({seconds:.0f}s, "
        f"{seconds / args.epochs:.1f}s per epoch); secondary: the epoch with the best "
        f"val_accuracy ({keeper.epoch + 1}, {keeper.best:.2%}) scores {best:.2%}",
        flush=True,
    )
    return accuracy, best


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("cnn", "dense"), default="cnn")
    parser.add_argument("--init", choices=("keras", "tinycnn"), default="keras")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5, help="runs, with seeds 0..SEEDS-1")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--data", help="folder with the MNIST files (default: found as usual)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("TF_NUM_INTRAOP_THREADS", "1")),
        help="TensorFlow intra- and inter-op threads (0: TensorFlow's choice)",
    )
    return parser.parse_args()


def load_data(given: str | None) -> tuple:
    from tinycnn.data import load_mnist, scale_images

    (x_train, y_train), (x_test, y_test) = load_mnist(data_folder(given), download=False)
    return (
        (scale_images(x_train), y_train.astype(np.int64)),
        (scale_images(x_test), y_test.astype(np.int64)),
    )


def main() -> int:
    args = parse_args()
    try:
        import tensorflow as tf  # lazy on purpose: importing it takes seconds
    except ImportError:
        print("bench_accuracy_keras: needs TensorFlow: pip install tensorflow-cpu", file=sys.stderr)
        return 1
    import keras

    set_threads(tf, args.threads)
    data = load_data(args.data)
    seeds = list(range(args.seeds))
    print("Keras accuracy protocol (the protocol of tinycnn's bench_accuracy.py, run in Keras)")
    print(f"versions: {versions(tf, keras)}")
    print(f"machine:  {machine()}; TensorFlow threads {args.threads or 'default'}")
    print(
        f"setup:    model {args.model} (Keras twin), init {args.init}, Adam lr {args.lr}, batch "
        f"{args.batch_size}, {args.epochs} epochs, validation split {args.validation_split} "
        f"(tinycnn's stratified split), seeds {seeds}; {len(data[0][1]):,} training / "
        f"{len(data[1][1]):,} test images",
        flush=True,
    )
    start = time.perf_counter()
    runs = [one_run(keras, seed, args, data) for seed in seeds]
    results = [final for final, _ in runs]
    print(
        f"test accuracy over {len(seeds)} seeds: median {statistics.median(results):.2%}, "
        f"min {min(results):.2%}, max {max(results):.2%} "
        f"(wall time {time.perf_counter() - start:.0f}s)"
    )
    best = [b for _, b in runs]
    print(
        f"secondary (not the protocol's figure): weights of each run's best-val_accuracy epoch: "
        f"median {statistics.median(best):.2%}, min {min(best):.2%}, max {max(best):.2%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
