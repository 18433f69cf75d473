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
# The student's layers run in the child (capstone_harness.py: 150 steps of calls across the
# process boundary would take minutes); every comparison is made here.
import copy  # noqa: E402

import numpy as np  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    compare,
)

__all__: list[str] = []  # documented by its docstring and the exercises page, not the API

PIECES = (
    "conv2d_forward",
    "conv2d_backward",
    "maxpool_forward",
    "maxpool_backward",
    "relu",
    "dropout",
    "dense_backward",
    "softmax_cross_entropy",
    "adam",
)
STEPS, BATCH, N_TEST, ACCURACY = 150, 32, 500, 0.85


def _library_model(seed: int, dtype):
    from tinycnn.zoo import seed_cnn

    model = seed_cnn(seed=seed)
    model.astype(dtype)
    return model


def _subset():
    from tinycnn.data.mnist import SUBSET_DIR, read_mnist
    from tinycnn.data.prep import scale_images

    (x_train, y_train), (x_test, y_test) = read_mnist(SUBSET_DIR)
    return scale_images(x_train), y_train.astype(np.int64), scale_images(x_test), y_test


def check_pieces(student) -> None:
    missing = student.harness("missing")
    if missing:
        raise CheckError(f"the capstone needs these functions in this folder: {', '.join(missing)}")


def check_one_step(student) -> None:
    from tinycnn.losses import SoftmaxCrossEntropy
    from tinycnn.optim.adam import Adam

    x_train, y_train, _, _ = _subset()
    x, y = x_train[:4].astype(np.float64), y_train[:4]
    model = _library_model(0, np.float64)
    rng = copy.deepcopy(model.layers[6].rng)
    loss, got_grads, got_params = student.harness("one_step", model.get_weights(), rng, x, y)
    ce = SoftmaxCrossEntropy()
    expected_loss = ce.forward(model.forward(x, training=True, logits=True), y)
    model.backward(ce.backward())
    grads = [g.copy() for _, _, g in model.params_and_grads()]
    optimizer = Adam()
    optimizer.update([p for _, p, _ in model.params_and_grads()], grads)
    compare("the loss of the first step", expected_loss, loss)
    names = [name for name, _, _ in model.params_and_grads()]
    for name, grad, got in zip(names, grads, got_grads, strict=True):
        compare(f"the gradient {name}", grad, got)
    for name, p, got in zip(names, model.get_weights(), got_params, strict=True):
        compare(f"the weight {name} after one Adam step", p, got)


def check_training(student) -> None:
    x_train, y_train, x_test, y_test = _subset()
    model = _library_model(0, np.float32)
    rng = copy.deepcopy(model.layers[6].rng)
    n = STEPS * BATCH
    losses, out = student.harness(
        "train", model.get_weights(), rng, x_train[:n], y_train[:n], x_test[:N_TEST], STEPS, BATCH
    )
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
    timeout=600.0,
    uses=PIECES,
    harness="capstone_harness.py",
)
### END HIDDEN TESTS
