"""Misclassified gallery: the test images the model gets wrong, most confident first.

The most confident mistakes are the interesting ones: often a badly written digit, sometimes
a wrong label in the data set itself.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.plots._figure import finish, new_figure


def misclassified(y_true: NDArray[np.integer], probs: NDArray[np.floating]) -> NDArray[np.intp]:
    """Indices of the wrongly classified examples, sorted by decreasing confidence.

    Parameters
    ----------
    y_true : ndarray of int, shape (N,)
    probs : ndarray, shape (N, K)
        Predicted class probabilities.

    Returns
    -------
    indices : ndarray of int, shape (M,)
        Every ``n`` with ``argmax(probs[n]) != y_true[n]``, the largest ``max(probs[n])`` first
        (ties keep index order).
    """
    y_true = np.asarray(y_true)
    probs = np.asarray(probs)
    if probs.ndim != 2 or y_true.shape != (len(probs),):
        raise ValueError(
            f"expected y_true (N,) and probs (N, K), got {y_true.shape} and {probs.shape}"
        )
    wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)
    order = np.argsort(-probs[wrong].max(axis=1), kind="stable")
    return wrong[order]


def plot_misclassified(
    images: NDArray[np.number],
    y_true: NDArray[np.integer],
    probs: NDArray[np.floating],
    max_images: int = 25,
    columns: int = 5,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """A grid of the most confident mistakes, titled ``#index``, true and predicted class.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, 1) or (N, H, W)
        The images the probabilities were computed for.
    y_true : ndarray of int, shape (N,)
    probs : ndarray, shape (N, K)
    max_images : int
        At most this many mistakes are shown.
    columns : int
        Images per row.
    out : path, optional
        Where to save the figure as a PNG (``columns * 160`` pixels wide, 190 per row).

    Returns
    -------
    Figure
        One Axes per shown image, titled ``"#n true t\\npred p (q%)"`` where q is the
        probability of the predicted class; ``figure.shown_indices`` lists the ``n`` in order.
    """
    indices = misclassified(y_true, probs)[:max_images]
    rows = max(1, math.ceil(len(indices) / columns))
    figure = new_figure(1.6 * columns, 1.9 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, n in zip(axes, indices, strict=False):
        predicted = int(np.argmax(probs[n]))
        ax.imshow(np.asarray(images[n]).squeeze(), cmap="gray_r")
        ax.set_title(
            f"#{n} true {int(y_true[n])}\npred {predicted} ({probs[n, predicted]:.0%})",
            fontsize=9,
        )
    if len(indices) == 0:
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14)
    total = int(np.sum(np.asarray(probs).argmax(axis=1) != np.asarray(y_true)))
    figure.suptitle(f"Most confident mistakes ({len(indices)} of {total} shown)")
    figure.shown_indices = indices  # type: ignore[attr-defined]
    return finish(figure, out)
