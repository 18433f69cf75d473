"""Dense vs CNN on shifted digits: accuracy as the test images move 0, 1, 2, ... pixels.

MNIST digits are centred, so a dense network can get away with memorising "ink at pixel
(i, j)". Move the test digits a few pixels and it fails; a CNN's shared filters and pooling
forgive the move. The numbers come from :func:`tinycnn.teach.probes.shift_accuracy`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from tinycnn.plots._figure import finish, new_figure


def plot_shift_accuracy(
    shifts: Sequence[int],
    accuracies: Mapping[str, ArrayLike],
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """One line per model: accuracy (in %) against the shift in pixels.

    Parameters
    ----------
    shifts : sequence of int, shape (S,)
        The shifts, e.g. ``[0, 1, 2, 3, 4]``.
    accuracies : mapping of str to array_like, each shape (S,)
        Model name to accuracy (fractions in [0, 1]) at each shift.
    out : path, optional
        Where to save the figure as a PNG (700 x 450 pixels).

    Returns
    -------
    Figure
        One Axes, one line per model with its values printed beside the points.
    """
    shifts = list(shifts)
    figure = new_figure(7, 4.5)
    ax = figure.subplots()
    for name, fractions in accuracies.items():
        values = 100 * np.asarray(fractions, dtype=np.float64)
        if values.shape != (len(shifts),):
            raise ValueError(
                f"{name}: expected {len(shifts)} accuracies (one per shift), got {values.shape}"
            )
        (line,) = ax.plot(shifts, values, "o-", label=name)
        for s, v in zip(shifts, values, strict=True):
            ax.annotate(
                f"{v:.1f}",
                (s, v),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=line.get_color(),
            )
    ax.set_xticks(shifts)
    ax.set_ylim(0, 105)
    ax.set_xlabel("shift of the test images (pixels)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy on shifted test images")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return finish(figure, out)
