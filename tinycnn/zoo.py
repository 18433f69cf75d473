"""Ready-made models: the seed CNN and the dense baseline, as in the Keras MNIST examples.

Both end in ``Dense(10, activation="softmax")``: ``model.forward(x)`` returns class
probabilities, and training uses the logits before that softmax (see ``tinycnn.losses``).
"""

from __future__ import annotations

from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from tinycnn.model import Sequential


def seed_cnn(seed: int | None = None) -> Sequential:
    """The seed CNN for 28x28x1 images: 225,034 parameters, built.

    ``Conv2D(32, 3, relu) - MaxPool2D(2) - Conv2D(64, 3, relu) - MaxPool2D(2) - Flatten -
    Dense(128, relu) - Dropout(0.5) - Dense(10, softmax)``; shapes (26,26,32) (13,13,32)
    (11,11,64) (5,5,64) (1600,) (128,) (128,) (10,).

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    layers = [
        Conv2D(32, 3, activation="relu"),
        MaxPool2D(2),
        Conv2D(64, 3, activation="relu"),
        MaxPool2D(2),
        Flatten(),
        Dense(128, activation="relu"),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ]
    return Sequential(layers, input_shape=(28, 28, 1), seed=seed)


def dense_baseline(seed: int | None = None) -> Sequential:
    """A multilayer perceptron for 28x28x1 images: 669,706 parameters, built.

    ``Flatten - Dense(512, relu) - Dropout(0.2) - Dense(512, relu) - Dropout(0.2) -
    Dense(10, softmax)``.

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    layers = [
        Flatten(),
        Dense(512, activation="relu"),
        Dropout(0.2),
        Dense(512, activation="relu"),
        Dropout(0.2),
        Dense(10, activation="softmax"),
    ]
    return Sequential(layers, input_shape=(28, 28, 1), seed=seed)
