"""The capstone's layer kit, run in the student's child process (``Exercise.harness``).

The student's ``train_step`` drives layers made of the student's own functions from the other
exercises' files of the folder; running them here, next to the student's code, keeps 150 training
steps from crossing the process boundary thousands of times. Nothing here decides anything: the
functions return losses, gradients, weights and logits, and the parent (``13_capstone.py``)
compares them with tinycnn's. Every function takes ``load`` first: ``load("relu")`` is the
student's module of that exercise.
"""

from __future__ import annotations

import numpy as np

PIECES = {
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


class Pieces:
    """The student's functions, by name, from the piece's file."""

    def __init__(self, load) -> None:
        self.functions = {
            function: getattr(load(module), function)
            for module, functions in PIECES.items()
            for function in functions
        }

    def __call__(self, function: str, *args):
        return self.functions[function](*args)


def missing(load) -> list[str]:
    """``"relu.py: relu_backward"`` for each piece function the folder's files do not define."""
    return [
        f"{module}.py: {function}"
        for module, functions in PIECES.items()
        for function in functions
        if not callable(getattr(load(module), function, None))
    ]


class _Layer:
    def __init__(self, pieces: Pieces, params=None) -> None:
        self.f = pieces
        self.params = params or {}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}


class Conv(_Layer):
    def forward(self, x, training=False):
        z = self.f("conv2d_forward", x, self.params["w"], self.params["b"], (1, 1), "valid")
        self.cache = (x, z)
        return self.f("relu_forward", z)

    def backward(self, dout):
        x, z = self.cache
        dz = self.f("relu_backward", dout, z)
        dx, self.grads["w"], self.grads["b"] = self.f(
            "conv2d_backward", dz, x, self.params["w"], (1, 1), "valid"
        )
        return dx


class Pool(_Layer):
    def forward(self, x, training=False):
        self.cache = x
        return self.f("maxpool_forward", x, 2, 2, (2, 2), "valid")

    def backward(self, dout):
        return self.f("maxpool_backward", dout, self.cache, 2, 2, (2, 2), "valid")


class Flatten(_Layer):
    def forward(self, x, training=False):
        self.cache = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dout):
        return dout.reshape(self.cache)


class Dense(_Layer):
    def __init__(self, pieces, params, relu: bool) -> None:
        super().__init__(pieces, params)
        self.relu = relu

    def forward(self, x, training=False):
        z = self.f("dense_forward", x, self.params["w"], self.params["b"])
        self.cache = (x, z)
        return self.f("relu_forward", z) if self.relu else z

    def backward(self, dout):
        x, z = self.cache
        dz = self.f("relu_backward", dout, z) if self.relu else dout
        dx, self.grads["w"], self.grads["b"] = self.f("dense_backward", dz, x, self.params["w"])
        return dx


class Dropout(_Layer):
    def __init__(self, pieces, rng) -> None:
        super().__init__(pieces)
        self.rng = rng

    def forward(self, x, training=False):
        out, self.cache = self.f("dropout_forward", x, 0.5, training, self.rng)
        return out

    def backward(self, dout):
        return self.f("dropout_backward", dout, self.cache)


class AdamState:
    """Per-parameter moments and step counts for the student's ``adam_step``."""

    def __init__(self, pieces: Pieces, learning_rate: float = 1e-3) -> None:
        self.f, self.lr = pieces, learning_rate
        self.state: dict[tuple[int, str], tuple] = {}

    def __call__(self, layer, key) -> None:
        p, g = layer.params[key], layer.grads[key]
        m, v, t = self.state.get((id(layer), key), (np.zeros_like(p), np.zeros_like(p), 0))
        new_p, m, v = self.f("adam_step", p, g, m, v, t + 1, self.lr, 0.9, 0.999, 1e-7)
        layer.params[key] = np.asarray(new_p, dtype=p.dtype)
        self.state[(id(layer), key)] = (m, v, t + 1)


def _layers(pieces: Pieces, weights, rng) -> list:
    """The seed CNN from the student's functions, with these weights and dropout generator."""
    w = [np.array(p) for p in weights]
    return [
        Conv(pieces, {"w": w[0], "b": w[1]}),
        Pool(pieces),
        Conv(pieces, {"w": w[2], "b": w[3]}),
        Pool(pieces),
        Flatten(pieces),
        Dense(pieces, {"w": w[4], "b": w[5]}, relu=True),
        Dropout(pieces, rng),
        Dense(pieces, {"w": w[6], "b": w[7]}, relu=False),
    ]


def _step(load, pieces, layers, update, x, y):
    return load("capstone").train_step(
        layers, x, y, lambda logits, y: pieces("softmax_cross_entropy", logits, y), update
    )


def one_step(load, weights, rng, x, y):
    """``(loss, grads, params)`` after one ``train_step`` (lists in the model's order)."""
    pieces = Pieces(load)
    layers = _layers(pieces, weights, rng)
    loss = _step(load, pieces, layers, AdamState(pieces), x, y)
    grads = [layer.grads[key] for layer in layers for key in layer.params]
    params = [layer.params[key] for layer in layers for key in layer.params]
    return loss, grads, params


def train(load, weights, rng, x_train, y_train, x_test, steps, batch):
    """``(losses, logits)``: ``steps`` training steps, then the logits of ``x_test``."""
    pieces = Pieces(load)
    layers = _layers(pieces, weights, rng)
    update = AdamState(pieces)
    losses = []
    for step in range(steps):
        chunk = slice(step * batch, (step + 1) * batch)
        losses.append(float(_step(load, pieces, layers, update, x_train[chunk], y_train[chunk])))
    out = x_test
    for layer in layers:
        out = layer.forward(out, training=False)
    return losses, out
