"""Small experiments on a trained model, as plain NumPy functions (no plotting).

The pictures in :mod:`tinycnn.plots` draw what these functions compute, so the numbers can be
tested, printed or plotted separately:

- :func:`class_probabilities`: softmax probabilities of a batch, computed in chunks;
- :func:`feature_maps`: the output of every convolution and pooling layer for one image;
- :func:`shift_images` and :func:`shift_accuracy`: the translation experiment that shows why
  convolution helps. A dense network learns "ink at pixel (12, 15)"; a CNN learns "a stroke
  here", and pooling forgives small moves, so its accuracy falls much more slowly as the test
  digits move away from where the training digits were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tinycnn.losses import softmax
from tinycnn.model import Sequential

Array = NDArray[np.floating]

# Layer classes whose outputs are spatial maps worth looking at.
MAP_LAYERS = ("Conv2D", "MaxPool2D")


def class_probabilities(model: Sequential, x: Array, batch_size: int = 256) -> Array:
    """Softmax probabilities of every image, in chunks of ``batch_size``.

    Parameters
    ----------
    model : Sequential
        A built model; its logits (``forward(x, logits=True)``) are turned into probabilities,
        whether or not it ends with a softmax.
    x : ndarray, shape (N, H, W, C)
        Images as the model expects them (float in [0, 1] for the zoo models).
    batch_size : int
        Images per forward pass (bounds the memory used).

    Returns
    -------
    probs : ndarray, shape (N, K)
        Rows sum to 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks = [
        softmax(np.asarray(model.forward(x[i : i + batch_size], training=False, logits=True)))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(chunks, axis=0)


def feature_maps(model: Sequential, image: Array) -> list[tuple[str, Array]]:
    """The activations of one image at the input and after every conv and pool layer.

    Parameters
    ----------
    model : Sequential
        A built model; its layers are run one by one in inference mode.
    image : ndarray, shape (H, W, C)
        One image (no batch axis).

    Returns
    -------
    maps : list of (str, ndarray of shape (OH, OW, F))
        ``("input", image)`` first, then one entry per ``Conv2D`` / ``MaxPool2D`` layer, named
        by the layer (a conv layer's output includes its activation, e.g. ReLU).
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"expected one image of shape (H, W, C), got shape {image.shape}")
    maps: list[tuple[str, Array]] = [("input", image)]
    out = image[None]  # (1, H, W, C)
    for layer in model.layers:
        out = layer.forward(out, training=False)
        if type(layer).__name__ in MAP_LAYERS:
            maps.append((layer.describe(), out[0]))
    return maps


def shift_images(x: NDArray[Any], dy: int, dx: int) -> NDArray[Any]:
    """Move every image ``dy`` pixels down and ``dx`` pixels right, filling with zeros.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    dy, dx : int
        Shift in pixels; negative values move up / left. Pixels pushed past the border are lost.

    Returns
    -------
    shifted : ndarray, shape (N, H, W, C)
        A new array of the same dtype; ``shifted[n, i + dy, j + dx] = x[n, i, j]``.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got shape {x.shape}")
    H, W = x.shape[1:3]
    shifted = np.zeros_like(x)
    if abs(dy) >= H or abs(dx) >= W:
        return shifted
    src_rows = slice(max(-dy, 0), H - max(dy, 0))
    dst_rows = slice(max(dy, 0), H - max(-dy, 0))
    src_cols = slice(max(-dx, 0), W - max(dx, 0))
    dst_cols = slice(max(dx, 0), W - max(-dx, 0))
    shifted[:, dst_rows, dst_cols] = x[:, src_rows, src_cols]
    return shifted


def shift_accuracy(
    model: Sequential,
    x: Array,
    y: NDArray[np.integer],
    shifts: Iterable[int] = range(5),
    direction: tuple[int, int] = (0, 1),
    batch_size: int = 256,
) -> NDArray[np.float64]:
    """Accuracy of ``model`` on the images moved by ``s * direction`` pixels, for each ``s``.

    Parameters
    ----------
    model : Sequential
        A trained model.
    x : ndarray, shape (N, H, W, C)
        Test images as the model expects them.
    y : ndarray of int, shape (N,)
        True labels.
    shifts : iterable of int
        Shift sizes in pixels, e.g. ``range(5)`` for 0..4.
    direction : (int, int)
        ``(dy, dx)`` per unit of shift: ``(0, 1)`` moves right, ``(1, 1)`` diagonally.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    accuracy : ndarray, shape (len(shifts),)
        Fraction of correct predictions (in [0, 1]) at each shift.
    """
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"expected labels of shape ({len(x)},), got shape {y.shape}")
    accuracies = []
    for s in shifts:
        moved = shift_images(x, s * direction[0], s * direction[1])
        predicted = class_probabilities(model, moved, batch_size).argmax(axis=1)
        accuracies.append(float(np.mean(predicted == y)))
    return np.asarray(accuracies)
