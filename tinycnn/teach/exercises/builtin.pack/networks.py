"""The networks that the exercises on what a network looks at (saliency, fgsm) hand to the
student's code, and the two callbacks through which the student's code runs them.

``linear(weights)`` is Flatten -> Dense (a worked example's model, whose input gradient is a
column of ``weights``); ``small_cnn(seed)`` a small ReLU CNN on (6, 7, 2) images. Both are
float64. ``callbacks(model)`` returns ``scores(x) -> z`` (N, K), the logits, and
``input_gradient(x, dscores) -> dx`` (N, H, W, C), one backward pass from ``dscores`` (N, K):
the functions the exercises' docstrings describe. They run here, in the grader's process, when
the student's code calls them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.teach.looks import scores_and_gradient

__all__ = ["callbacks", "linear", "small_cnn"]


def linear(weights: np.ndarray, scale: float = 1.0) -> Sequential:
    """Flatten -> Dense without activation on (1, D/2, 2) images, with kernel
    ``scale * weights`` (D, K) and no bias."""
    D, K = weights.shape
    model = Sequential([Flatten(), Dense(K)], input_shape=(1, D // 2, 2), seed=0)
    model = model.astype(np.float64)
    model.layers[1].set_weights([scale * weights, np.zeros(K)])
    return model


def small_cnn(seed: int) -> Sequential:
    """Conv2D(3, 3, relu) -> MaxPool2D -> Flatten -> Dense(4) on (6, 7, 2) images."""
    model = Sequential(
        [Conv2D(3, 3, activation="relu"), MaxPool2D(), Flatten(), Dense(4)],
        input_shape=(6, 7, 2),
        seed=seed,
    )
    return model.astype(np.float64)


def callbacks(model: Sequential) -> tuple[Callable, Callable]:
    """``scores`` and ``input_gradient`` of ``model``, in float64."""

    def scores(batch):
        return np.asarray(model.forward(np.asarray(batch, np.float64), logits=True))

    def input_gradient(batch, dscores):
        return scores_and_gradient(model, np.asarray(batch, np.float64), np.asarray(dscores))[1]

    return scores, input_gradient
