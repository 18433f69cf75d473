"""The systems of the speed ladder, each run in its own worker process by ``tinycnn bench``.

A system trains one model (the seed CNN or the dense baseline) on MNIST with Adam (lr 1e-3,
batch 64, softmax cross-entropy on logits). Systems: ``numpy`` and ``numba`` (tinycnn eager, the
default, on its two backends), ``jit`` (``compile(..., jit_compile=True)`` on the Numba backend:
the fused, direct and Winograd steps), ``torch`` and ``tf`` (the same model in PyTorch eager and
in Keras 3 / TensorFlow with a compiled ``tf.function`` train step). tinycnn is driven through
its public API only.

Each worker owns one system and answers the parent's commands (see :func:`serve`): time ``k``
training steps, time each layer, time a single-image prediction, run a real full epoch. Workers
keep thread pools apart (TensorFlow, PyTorch and Numba in one process would fight over them) and
let the parent interleave the systems.
"""

from __future__ import annotations

import contextlib
import resource
import time
from typing import Any

import numpy as np

SYSTEMS = ("numpy", "numba", "jit", "torch", "tf")
LR = 1e-3


def load_data(subset: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images scaled to float32 [0, 1], (N, 28, 28, 1), and int64 labels."""
    from tinycnn.data import load_mnist, load_mnist_or_subset, scale_images

    (x, y), _ = load_mnist(subset=True) if subset else load_mnist_or_subset()
    return scale_images(x), y.astype(np.int64)


# -- model builders ------------------------------------------------------------------------
def _tinycnn_system(system: str, model_name: str) -> Any:
    import tinycnn

    tinycnn.set_backend("numpy" if system == "numpy" else "numba")
    model = (tinycnn.seed_cnn if model_name == "cnn" else tinycnn.dense_baseline)(seed=0)
    model.compile(
        optimizer=tinycnn.Adam(LR),
        loss=tinycnn.SoftmaxCrossEntropy(),
        jit_compile=system == "jit",
    )
    return model


class TinycnnRunner:
    """tinycnn eager on one backend, or ``jit_compile``: the steps of ``tinycnn.training.loop.fit``
    without its bookkeeping."""

    def __init__(self, system: str, model_name: str) -> None:
        self.model = _tinycnn_system(system, model_name)
        # The threads fit runs with (tinycnn.runtime), for the worker's life: steps and layer
        # timings call the model directly, not through fit.
        self._threads = contextlib.ExitStack()
        self._threads.enter_context(self.model.runtime.applied())

    def step(self, xb: np.ndarray, yb: np.ndarray) -> None:
        model = self.model
        logits = model.forward(xb, training=True, logits=True)
        model.loss.forward(logits, yb)
        model.backward(model.loss.backward())
        triples = model.params_and_grads()
        model.optimizer.update([p for _, p, _ in triples], [g for _, _, g in triples])

    def predict_one(self, x1: np.ndarray) -> None:
        self.model.predict(x1)

    def epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
        start = time.perf_counter()
        self.model.fit(x, y, epochs=1, batch_size=batch_size, seed=0, verbose=0)
        return time.perf_counter() - start

    def layer_times(self, xb: np.ndarray, yb: np.ndarray, reps: int) -> list[tuple]:
        """Median forward and backward milliseconds of every step of a training step on the
        batch ``xb``: a layer, or (with ``jit_compile``) a fused Conv2D + MaxPool2D pair named
        with its kind (fused, winograd or direct)."""
        from tinycnn.fast.plan import describe
        from tinycnn.layers.activation import ActivatedLayer

        steps = self.model.steps()
        fwd = np.zeros((reps, len(steps)))
        bwd = np.zeros((reps, len(steps)))
        for r in range(reps):
            out = xb
            for k, step in enumerate(steps):
                logits_only = k == len(steps) - 1 and isinstance(step, ActivatedLayer)
                t0 = time.perf_counter()
                if logits_only:  # the loss takes logits, as in a training step
                    out = step.forward(out, training=True, apply_activation=False)
                else:
                    out = step.forward(out, training=True)
                fwd[r, k] = time.perf_counter() - t0
            self.model.loss.forward(out, yb)
            dout = self.model.loss.backward()
            for k in reversed(range(len(steps))):
                if dout is None:
                    break
                t0 = time.perf_counter()
                dout = steps[k].backward(dout)
                bwd[r, k] = time.perf_counter() - t0
        med_f, med_b = np.median(fwd, axis=0) * 1e3, np.median(bwd, axis=0) * 1e3
        fused = iter(describe(steps))
        names = [
            next(fused).replace(": ", " (") + ")" if hasattr(step, "layers") else step.describe()
            for step in steps
        ]
        return list(zip(names, med_f, med_b, strict=True))


class TorchRunner:
    """The same model in PyTorch (NCHW inside; the data are transposed once)."""

    def __init__(self, model_name: str, threads: int) -> None:
        import torch
        from torch import nn

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.torch = torch
        if model_name == "cnn":
            layers = [
                nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
            ]  # fmt: skip
        else:
            layers = [
                nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10),
            ]  # fmt: skip
        self.model = nn.Sequential(*layers)
        self.loss = nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def convert(self, x: np.ndarray, y: np.ndarray) -> tuple:
        return self.torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), self.torch.from_numpy(y)

    def step(self, xb, yb) -> None:
        self.model.train()
        self.opt.zero_grad()
        self.loss(self.model(xb), yb).backward()
        self.opt.step()

    def predict_one(self, x1) -> None:
        self.model.eval()
        with self.torch.no_grad():
            self.model(x1)


class TFRunner:
    """The same model in Keras 3 / TensorFlow with a ``tf.function`` train step."""

    def __init__(self, model_name: str, threads: int) -> None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        keras = tf.keras
        keras.utils.set_random_seed(0)
        L = keras.layers
        if model_name == "cnn":
            layers = [
                L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10),
            ]  # fmt: skip
        else:
            layers = [
                L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.2),
                L.Dense(512, activation="relu"), L.Dropout(0.2), L.Dense(10),
            ]  # fmt: skip
        self.model = keras.Sequential([keras.Input((28, 28, 1)), *layers])
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.opt = keras.optimizers.Adam(LR)
        self.tf = tf

        @tf.function
        def train_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = self.loss(yb, self.model(xb, training=True))
            grads = tape.gradient(loss, self.model.trainable_variables)
            self.opt.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))

        self._step = train_step
        self._predict = tf.function(lambda x: self.model(x, training=False))

    def convert(self, x: np.ndarray, y: np.ndarray) -> tuple:
        return x, y

    def step(self, xb, yb) -> None:
        self._step(self.tf.constant(xb), self.tf.constant(yb))

    def predict_one(self, x1) -> None:
        self._predict(self.tf.constant(x1))


def make_runner(system: str, model_name: str, threads: int):
    """The runner object for ``system`` (see ``SYSTEMS``)."""
    if system == "torch":
        return TorchRunner(model_name, threads)
    if system == "tf":
        return TFRunner(model_name, threads)
    return TinycnnRunner(system, model_name)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(conn, system: str, model_name: str, batch_size: int, threads: int, subset: bool):
    """Worker main loop: build the system, then answer commands until ``("stop",)``."""
    try:
        x, y = load_data(subset)
        runner = make_runner(system, model_name, threads)
        convert = getattr(runner, "convert", lambda a, b: (a, b))
        order = np.random.default_rng(0).permutation(len(x))
        batches = len(x) // batch_size
        cursor = 0
        conn.send(("ready", peak_rss_mb()))
    except Exception as error:  # report, e.g. a missing framework, instead of hanging
        conn.send(("error", f"{type(error).__name__}: {error}"))
        return
    while True:
        command, *args = conn.recv()
        if command == "stop":
            return
        if command == "steps":  # time args[0] consecutive training steps
            times = []
            for _ in range(args[0]):
                rows = order[(cursor % batches) * batch_size : (cursor % batches + 1) * batch_size]
                xb, yb = convert(x[rows], y[rows])
                t0 = time.perf_counter()
                runner.step(xb, yb)
                times.append(time.perf_counter() - t0)
                cursor += 1
            conn.send(times)
        elif command == "predict":
            x1 = convert(x[:1], y[:1])[0]
            runner.predict_one(x1)
            times = []
            for _ in range(args[0]):
                t0 = time.perf_counter()
                runner.predict_one(x1)
                times.append(time.perf_counter() - t0)
            conn.send(times)
        elif command == "layers":
            rows = order[:batch_size]
            conn.send(runner.layer_times(x[rows], y[rows], args[0]))
        elif command == "epoch":
            if hasattr(runner, "epoch"):
                seconds = runner.epoch(x, y, batch_size)
            else:
                t0 = time.perf_counter()
                for b in range(batches + (len(x) % batch_size > 0)):
                    rows = order[b * batch_size : (b + 1) * batch_size]
                    runner.step(*convert(x[rows], y[rows]))
                seconds = time.perf_counter() - t0
            conn.send((seconds, peak_rss_mb()))
