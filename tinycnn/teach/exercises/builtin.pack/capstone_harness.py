"""The capstone's harness: a layer kit made of the student's own functions, run in the CHILD.

The capstone student writes the layer list and the training loop; the layers come from this kit,
and every piece of arithmetic inside them is the student's own code from the other exercises of
the same folder: ``Conv2D`` runs their ``conv2d_forward``/``conv2d_backward``, and those call
*their* ``im2col`` and ``col2im`` (``Pieces`` rebinds the names ``im2col`` and ``col2im`` in the
two convolution modules to the student's functions). ``kit.loss`` is their
``softmax_cross_entropy`` and ``kit.adam_step`` their ``adam_step``.

The grader loads this file in the student's child process (``Exercise(harness=...)``) and calls
its ``layer_kinds``, ``run_loop`` and ``train_and_predict`` there, each as ``f(load, ...)`` with
``load(name)`` the student's module of exercise ``name``. They return plain arrays, numbers and
strings; every comparison is made in the parent, which loads this file too (``sibling``) to run
the same kit on the library's answers (``Pieces`` of any mapping of functions).

The kit also times the student's functions (``Pieces.seconds``: what is slow) and keeps a
budget: when the first steps of a run show it would overrun, ``kit.loss`` raises ``OutOfTime``
(a ``BaseException``, so a student's ``except Exception`` cannot swallow it) and the harness
reports the measured speed instead of running into the time limit.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinycnn.initializers import glorot_uniform

PIECES = {
    "im2col": ("im2col",),
    "col2im": ("col2im",),
    "conv2d_forward": ("conv2d_forward",),
    "conv2d_backward": ("conv2d_backward",),
    "maxpool_forward": ("maxpool_forward",),
    "maxpool_backward": ("maxpool_backward",),
    "relu": ("relu_forward", "relu_backward"),
    "dropout": ("dropout_forward", "dropout_backward"),
    "dense_backward": ("dense_forward", "dense_backward"),
    "softmax_cross_entropy": ("softmax_cross_entropy",),
    "adam": ("adam_step",),
}
KINDS = ["Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dropout", "Dense"]


class OutOfTime(BaseException):  # noqa: N818 (it is a signal to stop, not an error)
    """The training ran past the grader's time budget."""


class Pieces:
    """Named functions (``function -> callable``), each call timed.

    ``seconds`` holds each function's own time: im2col's time inside conv2d_forward counts for
    im2col, not for conv2d_forward.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = dict(functions)
        self.seconds: dict[str, float] = defaultdict(float)
        self._inner = 0.0

    @classmethod
    def of_student(cls, load: Callable[[str], Any]) -> Pieces:
        """The student's functions from their modules, their conv on their im2col and col2im."""
        modules = {name: load(name) for name in PIECES}
        pieces = cls(
            {f: getattr(modules[name], f) for name, functions in PIECES.items() for f in functions}
        )
        own = {f: pieces._timed(f, pieces.functions[f]) for f in ("im2col", "col2im")}
        for name in ("conv2d_forward", "conv2d_backward"):
            vars(modules[name]).update(own)
        return pieces

    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args: self._run(name, function, *args)

    def _run(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        outer, self._inner = self._inner, 0.0
        start = time.perf_counter()
        try:
            return function(*args)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] += elapsed - self._inner
            self._inner = outer + elapsed

    def __call__(self, function: str, *args: Any) -> Any:
        return self._run(function, self.functions[function], *args)

    def slowest(self) -> list[tuple[str, float]]:
        """``(function, seconds)``, the most time first."""
        return sorted(self.seconds.items(), key=lambda item: -item[1])


class _Layer:
    def __init__(self, kit: Kit, params: dict[str, np.ndarray] | None = None) -> None:
        self.kit, self.f = kit, kit.pieces
        self.params = params or {}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.cache: Any = None

    def __repr__(self) -> str:
        return type(self).__name__


class Conv2D(_Layer):
    """``filters`` kernels of ``kernel_size`` x ``kernel_size``, stride 1, "valid"."""

    def __init__(self, kit: Kit, filters: int, kernel_size: int, rng, channels: int = 1) -> None:
        K, fan_in = kernel_size, kernel_size * kernel_size * channels
        w = glorot_uniform((K, K, channels, filters), fan_in, K * K * filters, rng)
        super().__init__(kit, {"w": w, "b": np.zeros(filters, np.float32)})

    def forward(self, x, training=False):
        if x.shape[-1] != self.params["w"].shape[2]:
            raise ValueError(f"Conv2D expected {self.params['w'].shape[2]} channels, got {x.shape}")
        self.cache = x
        return self.f("conv2d_forward", x, self.params["w"], self.params["b"], (1, 1), "valid")

    def backward(self, dout):
        dx, self.grads["w"], self.grads["b"] = self.f(
            "conv2d_backward", dout, self.cache, self.params["w"], (1, 1), "valid"
        )
        return dx


class ReLU(_Layer):
    def forward(self, x, training=False):
        self.cache = x
        return self.f("relu_forward", x)

    def backward(self, dout):
        return self.f("relu_backward", dout, self.cache)


class MaxPool2D(_Layer):
    def __init__(self, kit: Kit, pool_size: int = 2) -> None:
        super().__init__(kit)
        self.size = pool_size

    def forward(self, x, training=False):
        self.cache = x
        K = self.size
        return self.f("maxpool_forward", x, K, K, (K, K), "valid")

    def backward(self, dout):
        K = self.size
        return self.f("maxpool_backward", dout, self.cache, K, K, (K, K), "valid")


class Flatten(_Layer):
    def forward(self, x, training=False):
        self.cache = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self.cache)


class Dense(_Layer):
    """``units`` outputs from ``inputs`` features (Glorot-uniform kernel, zero bias)."""

    def __init__(self, kit: Kit, inputs: int, units: int, rng) -> None:
        w = glorot_uniform((inputs, units), inputs, units, rng)
        super().__init__(kit, {"w": w, "b": np.zeros(units, np.float32)})

    def forward(self, x, training=False):
        self.cache = x
        return self.f("dense_forward", x, self.params["w"], self.params["b"])

    def backward(self, dout):
        dx, self.grads["w"], self.grads["b"] = self.f(
            "dense_backward", dout, self.cache, self.params["w"]
        )
        return dx


class Dropout(_Layer):
    def __init__(self, kit: Kit, rate: float, rng) -> None:
        super().__init__(kit)
        self.rate, self.rng = rate, rng

    def forward(self, x, training=False):
        out, self.cache = self.f("dropout_forward", x, self.rate, training, self.rng)
        return out

    def backward(self, dout):
        return self.f("dropout_backward", dout, self.cache)


class Kit:
    """What the capstone student builds with: layers, ``loss`` and ``adam_step``.

    ``budget`` (seconds) limits a training run that ``plan(steps)`` announced: once the first
    steps show that the run would take longer, ``loss`` raises ``OutOfTime``.
    """

    def __init__(self, pieces: Pieces, budget: float = float("inf")) -> None:
        self.pieces, self.budget = pieces, budget
        self.losses: list[float] = []
        self.planned, self.started = 0, time.perf_counter()

    def plan(self, steps: int) -> None:
        """Start the clock for a run of ``steps`` batches."""
        self.planned, self.started, self.losses = steps, time.perf_counter(), []

    def Conv2D(self, filters, kernel_size, rng, channels=1):  # noqa: N802 (a layer's name)
        return Conv2D(self, filters, kernel_size, rng, channels)

    def ReLU(self):  # noqa: N802
        return ReLU(self)

    def MaxPool2D(self, pool_size=2):  # noqa: N802
        return MaxPool2D(self, pool_size)

    def Flatten(self):  # noqa: N802
        return Flatten(self)

    def Dense(self, inputs, units, rng):  # noqa: N802
        return Dense(self, inputs, units, rng)

    def Dropout(self, rate, rng):  # noqa: N802
        return Dropout(self, rate, rng)

    def elapsed(self) -> float:
        """Seconds since ``plan``."""
        return time.perf_counter() - self.started

    def loss(self, logits, y):
        """``(loss, dlogits)`` from the student's ``softmax_cross_entropy``; checks the clock."""
        done = len(self.losses)
        if done and self.planned and self.elapsed() / done * self.planned > self.budget:
            if done >= 3 or self.elapsed() > self.budget / 4:
                raise OutOfTime
        loss, dlogits = self.pieces("softmax_cross_entropy", logits, y)
        self.losses.append(float(loss))
        return loss, dlogits

    def adam_step(self, p, g, m, v, t, learning_rate=1e-3):
        """One step of the student's ``adam_step`` (beta_1 0.9, beta_2 0.999, epsilon 1e-7)."""
        new_p, m, v = self.pieces("adam_step", p, g, m, v, t, learning_rate, 0.9, 0.999, 1e-7)
        return np.asarray(new_p, dtype=p.dtype), m, v


# --- run in the child: ``f(load, ...)``, ``load(name)`` the student's module of exercise ``name``


def subset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The embedded MNIST subset, scaled: ``x_train, y_train, x_test, y_test`` (read once per
    process; every call gets its own copies, which the student's code may change)."""
    return tuple(array.copy() for array in _subset())  # type: ignore[return-value]


@functools.cache
def _subset() -> tuple[np.ndarray, ...]:
    from tinycnn.data.arrays import scale_images
    from tinycnn.data.mnist import SUBSET_DIR, read_mnist

    (x_train, y_train), (x_test, y_test) = read_mnist(SUBSET_DIR)
    return scale_images(x_train), y_train.astype(np.int64), scale_images(x_test), y_test


def given_layers(kit: Kit) -> list:
    """The layer list the capstone's docstring asks for (weights from ``default_rng(0)``)."""
    rng = np.random.default_rng(0)
    return [
        kit.Conv2D(8, 3, rng),
        kit.ReLU(),
        kit.MaxPool2D(2),
        kit.Flatten(),
        kit.Dropout(0.25, rng),
        kit.Dense(1352, 10, rng),
    ]


def parameters(layers: list) -> list[np.ndarray]:
    """Every parameter of ``layers``, in order."""
    return [p for layer in layers for p in layer.params.values()]


def layer_kinds(load) -> tuple[list[str], list[list[int]]]:
    """The kinds of the student's layers and, if they are the asked ones, 2 images' shapes."""
    kit = Kit(Pieces.of_student(load))
    layers = load("capstone").build_layers(kit, np.random.default_rng(0))
    if not isinstance(layers, (list, tuple)):
        return [f"not a list but a {type(layers).__name__}"], []
    kinds = [type(layer).__name__ for layer in layers]
    shapes, x = [], subset()[0][:2]
    if kinds == KINDS:
        for layer in layers:
            x = layer.forward(x, training=False)
            shapes.append([int(n) for n in np.shape(x)])
    return kinds, shapes


def run_loop(load, epochs: int, batch: int, learning_rate: float, images: int) -> tuple:
    """The student's ``train`` on the given layers and ``images`` images: parameters, steps."""
    kit = Kit(Pieces.of_student(load))
    layers = given_layers(kit)
    x, y = subset()[:2]
    logged: list[int] = []
    load("capstone").train(
        layers, kit, x[:images], y[:images], epochs, batch, learning_rate,
        np.random.default_rng(1), lambda step, loss: logged.append(int(step)),
    )  # fmt: skip
    return parameters(layers), logged


def train_and_predict(load, images, epochs, batch, learning_rate, tests, budget, log) -> dict:
    """Train the student's network with their loop; the test logits, or how far it got."""
    kit = Kit(Pieces.of_student(load), budget)
    layers = load("capstone").build_layers(kit, np.random.default_rng(0))
    x_train, y_train, x_test, _ = subset()
    steps = epochs * -(-images // batch)

    def every_50(step, loss):
        if step % 50 == 0 or step == steps:
            log(int(step), steps, float(loss))

    kit.plan(steps)
    try:
        load("capstone").train(
            layers, kit, x_train[:images], y_train[:images], epochs, batch, learning_rate,
            np.random.default_rng(1), every_50,
        )  # fmt: skip
    except OutOfTime:
        spent = [[name, seconds] for name, seconds in kit.pieces.slowest()]
        return {"finished": False, "steps": len(kit.losses), "planned": steps,
                "seconds": kit.elapsed(), "spent": spent}  # fmt: skip
    seconds = kit.elapsed()
    logits = []
    for start in range(0, tests, 100):
        out = x_test[start : start + 100]
        for layer in layers:
            out = layer.forward(out, training=False)
        logits.append(out)
    return {"finished": True, "losses": np.array(kit.losses), "seconds": seconds,
            "logits": np.concatenate(logits)}  # fmt: skip
