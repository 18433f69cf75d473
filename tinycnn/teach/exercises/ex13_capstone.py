"""Capstone: the seed CNN built from your own layers, trained on the embedded MNIST subset.

The grader builds the seed CNN from the functions you wrote in this folder::

    Conv2D(32, 3, relu) - MaxPool2D(2) - Conv2D(64, 3, relu) - MaxPool2D(2) - Flatten -
    Dense(128, relu) - Dropout(0.5) - Dense(10)           (+ softmax cross-entropy on the logits)

    conv2d_forward.py conv2d_backward.py maxpool_forward.py maxpool_backward.py relu.py
    dropout.py dense_backward.py softmax_cross_entropy.py adam.py

Each layer it gives you has ``forward(x, training)``, ``backward(dout) -> dx`` and dicts
``params`` and ``grads`` with the same keys. Your part is the training step that ties them
together: the forward pass in order, the loss and its gradient, the backward pass in reverse
order, and one update per parameter. Shapes for a batch of N images::

    x (N, 28, 28, 1) -> (N, 26, 26, 32) -> (N, 13, 13, 32) -> (N, 11, 11, 64) -> (N, 5, 5, 64)
      -> (N, 1600) -> (N, 128) -> (N, 128) -> logits (N, 10)

The check runs one step of your model beside tinycnn's (same weights, same dropout mask) and
compares every gradient and weight, then trains your model with Adam (learning rate 1e-3) for
150 steps of 32 images (the first 4,800 of the embedded subset's training images) and needs an
accuracy of at least 85% on the subset's first 500 test images (the reference answers reach
91.0%).

Check your answer: ``tinycnn exercises check capstone DIR``.
"""

from __future__ import annotations


def train_step(layers, x, y, loss_and_grad, update):
    """One training step; returns the loss before the update.

    Parameters
    ----------
    layers : list of layers
        ``layer.forward(x, training)``, ``layer.backward(dout) -> dx``, ``layer.params``.
    x : ndarray, shape (N, 28, 28, 1)
    y : ndarray of int, shape (N,)
    loss_and_grad : callable
        ``loss, dlogits = loss_and_grad(logits, y)`` (your softmax_cross_entropy).
    update : callable
        ``update(layer, key)`` applies one Adam step to ``layer.params[key]`` using
        ``layer.grads[key]``.

    Returns
    -------
    loss : float
    """
    ### BEGIN SOLUTION
    out = x
    for layer in layers:
        out = layer.forward(out, training=True)
    loss, dout = loss_and_grad(out, y)
    for layer in reversed(layers):
        dout = layer.backward(dout)
    for layer in layers:
        for key in layer.params:
            update(layer, key)
    return loss
    ### END SOLUTION


### BEGIN HIDDEN TESTS
import copy  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    Student,
    compare,
)

__all__: list[str] = []  # documented by its docstring and the exercises page, not the API

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
STEPS, BATCH, N_TEST, ACCURACY = 150, 32, 500, 0.85


class Pieces:
    """The student's functions from every piece's file in the folder."""

    def __init__(self, folder: Path) -> None:
        self.students = {
            name: Student(folder / f"{name}.py", functions) for name, functions in PIECES.items()
        }
        self.owner = {f: name for name, functions in PIECES.items() for f in functions}

    def __call__(self, function: str, *args):
        return self.students[self.owner[function]].call_shared(function, *args)


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


def _library_model(seed: int, dtype):
    from tinycnn.zoo import seed_cnn

    model = seed_cnn(seed=seed)
    model.astype(dtype)
    return model


def _student_layers(pieces: Pieces, model) -> list:
    """The student's seed CNN with the library model's weights and dropout generator."""
    w = [p.copy() for p in model.get_weights()]
    rng = copy.deepcopy(model.layers[6].rng)
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


def _subset():
    from tinycnn.data.arrays import scale_images
    from tinycnn.data.mnist import SUBSET_DIR, read_mnist

    (x_train, y_train), (x_test, y_test) = read_mnist(SUBSET_DIR)
    return scale_images(x_train), y_train.astype(np.int64), scale_images(x_test), y_test


def check_pieces(student) -> None:
    Pieces(student.path.parent)


LAYER_NAMES = [
    "conv2d",
    "maxpool",
    "conv2d_1",
    "maxpool_1",
    "flatten",
    "dense",
    "dropout",
    "dense_1",
]
SUSPECTS = {"w": "conv2d_backward or dense_backward (dw)", "b": "the bias gradient (db)"}


def check_one_step(student) -> None:
    from tinycnn.losses import SoftmaxCrossEntropy
    from tinycnn.optim.adam import Adam

    pieces = Pieces(student.path.parent)
    x_train, y_train, _, _ = _subset()
    x, y = x_train[:4].astype(np.float64), y_train[:4]
    model = _library_model(0, np.float64)
    layers = _student_layers(pieces, model)
    loss = student.call_shared(
        "train_step",
        layers,
        x,
        y,
        lambda logits, y: pieces("softmax_cross_entropy", logits, y),
        AdamState(pieces),
    )
    ce = SoftmaxCrossEntropy()
    expected_loss = ce.forward(model.forward(x, training=True, logits=True), y)
    model.backward(ce.backward())
    grads = [g.copy() for _, _, g in model.params_and_grads()]
    optimizer = Adam()
    optimizer.update([p for _, p, _ in model.params_and_grads()], grads)
    compare("the loss of the first step", expected_loss, loss)
    names = [name for name, _, _ in model.params_and_grads()]
    ours = [(layer, key) for layer in layers for key in layer.params]
    for name, grad, (layer, key) in zip(names, grads, ours, strict=True):
        compare(f"the gradient {name}", grad, layer.grads[key])
    for name, p, (layer, key) in zip(names, model.get_weights(), ours, strict=True):
        compare(f"the weight {name} after one Adam step", p, layer.params[key])


def check_training(student) -> None:
    pieces = Pieces(student.path.parent)
    x_train, y_train, x_test, y_test = _subset()
    layers = _student_layers(pieces, _library_model(0, np.float32))
    update = AdamState(pieces)
    losses = []
    for step in range(STEPS):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        losses.append(
            float(
                student.call_shared(
                    "train_step",
                    layers,
                    x_train[batch],
                    y_train[batch],
                    lambda logits, y: pieces("softmax_cross_entropy", logits, y),
                    update,
                )
            )
        )
    out = x_test[:N_TEST]
    for layer in layers:
        out = layer.forward(out, training=False)
    accuracy = float(np.mean(np.argmax(out, axis=1) == y_test[:N_TEST]))
    if not np.isfinite(losses).all() or not accuracy >= ACCURACY:
        raise CheckError(
            f"after {STEPS} steps of {BATCH} images: test accuracy {accuracy:.1%} "
            f"(needs {ACCURACY:.0%}); loss {np.mean(losses[:20]):.3f} over the first 20 "
            f"steps, {np.mean(losses[-20:]):.3f} over the last 20"
        )


EXERCISE = Exercise(
    name="capstone",
    topic="the seed CNN from your own layers, trained on the embedded subset",
    functions=("train_step",),
    checks=(
        Check(
            "your pieces are all there (conv, pool, relu, dropout, dense, loss, adam)", check_pieces
        ),
        Check("one training step matches tinycnn's (every gradient and weight)", check_one_step),
        Check(f"trains to {ACCURACY:.0%} test accuracy on the embedded subset", check_training),
    ),
)
### END HIDDEN TESTS
