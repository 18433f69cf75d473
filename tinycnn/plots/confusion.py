"""Confusion matrix heatmap: counts in the cells, colours normalised per true class.

Row ``t``, column ``p`` counts the test images of class ``t`` predicted as ``p``. Colouring by
the row-normalised fraction (the recall of each class on the diagonal) keeps rare classes as
visible as common ones; the printed counts keep the absolute numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.plots._figure import finish, new_figure


def row_normalise(counts: NDArray[np.integer]) -> NDArray[np.float64]:
    """Each row divided by its sum (rows of zeros stay zero)."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def plot_confusion_matrix(
    y_true: NDArray[np.integer],
    y_pred: NDArray[np.integer],
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """Heatmap of ``metrics.confusion_matrix(y_true, y_pred)`` with the count in every cell.

    Parameters
    ----------
    y_true, y_pred : ndarray of int, shape (N,)
        True and predicted labels in ``0 .. num_classes - 1``.
    num_classes : int
        K, the number of classes (rows and columns).
    class_names : sequence of str, optional
        K tick labels; the class numbers by default.
    out : path, optional
        Where to save the figure as a PNG (700 x 600 pixels).

    Returns
    -------
    Figure
        One Axes with the image (row-normalised fractions, 0..1) and K*K count texts.
    """
    from tinycnn.training.metrics import confusion_matrix

    counts = np.asarray(confusion_matrix(y_true, y_pred, num_classes=num_classes))  # (K, K)
    names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"expected {num_classes} class names, got {len(names)}")
    fractions = row_normalise(counts)
    figure = new_figure(7, 6)
    ax = figure.subplots()
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    for (t, p), count in np.ndenumerate(counts):
        colour = "white" if fractions[t, p] > 0.5 else ("black" if count else "0.6")
        ax.text(p, t, str(count), ha="center", va="center", color=colour, fontsize=8)
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix ({counts.sum()} images, accuracy {accuracy:.2%})")
    figure.colorbar(image, ax=ax, label="fraction of the true class")
    return finish(figure, out)
