"""Small models and data shared by the training tests (fast on 2 cores)."""

from __future__ import annotations

import numpy as np

from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from tinycnn.model import Sequential


def tiny_cnn(seed: int = 0, input_shape: tuple[int, int, int] = (14, 14, 1)) -> Sequential:
    """Conv(6, 3, relu) - Pool - Flatten - Dense(16, relu) - Dropout - Dense(10, softmax)."""
    layers = [
        Conv2D(6, 3, activation="relu"),
        MaxPool2D(2),
        Flatten(),
        Dense(16, activation="relu"),
        Dropout(0.25),
        Dense(10, activation="softmax"),
    ]
    return Sequential(layers, input_shape=input_shape, seed=seed)


def small_mnist(n_train: int = 600, n_test: int = 200) -> tuple:
    """The first images of the embedded subset, 2x2-average-pooled to 14x14, scaled to [0, 1]."""
    from tinycnn.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)

    def shrink(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32) / 255.0
        return x.reshape(x.shape[0], 14, 2, 14, 2, 1).mean(axis=(2, 4))

    return (shrink(x_train[:n_train]), y_train[:n_train].astype(np.int64)), (
        shrink(x_test[:n_test]),
        y_test[:n_test].astype(np.int64),
    )
