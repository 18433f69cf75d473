"""Feature maps: what one image becomes at every convolution and pooling layer.

Each row is one layer's output ``(OH, OW, F)``; each column one channel. Early rows still look
like the digit (edges lit up by different filters); pooling halves the size; deeper rows are
coarser and more abstract. Each map has its own colour scale (bright = strong activation).
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.model import Sequential
from tinycnn.plots._figure import finish, new_figure
from tinycnn.teach.probes import feature_maps


def plot_feature_maps(
    model: Sequential,
    image: NDArray[np.floating],
    max_channels: int = 8,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """The first ``max_channels`` channels of the input and of every conv/pool layer's output.

    Parameters
    ----------
    model : Sequential
        A built model.
    image : ndarray, shape (H, W, C)
        One image as the model expects it.
    max_channels : int
        Columns of the grid: channels shown per layer.
    out : path, optional
        Where to save the figure as a PNG (``max_channels * 130 + 100`` pixels wide, 140 per
        row).

    Returns
    -------
    Figure
        Rows in the order of :func:`tinycnn.teach.probes.feature_maps`; the first Axes of each
        row is labelled with the layer's name and output shape.
    """
    if max_channels < 1:
        raise ValueError(f"max_channels must be >= 1, got {max_channels}")
    maps = feature_maps(model, image)
    figure = new_figure(1.3 * max_channels + 1.0, 1.4 * len(maps) + 0.4)
    grid = figure.subplots(len(maps), max_channels, squeeze=False)
    for row, (name, fmap) in zip(grid, maps, strict=True):
        OH, OW, F = fmap.shape
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= F:
                ax.set_frame_on(False)
                continue
            cmap = "gray_r" if name == "input" else "viridis"
            ax.imshow(fmap[:, :, c], cmap=cmap)
            ax.set_title(f"channel {c}", fontsize=7)
        row[0].set_ylabel(f"{name}\n{OH}x{OW}x{F}", fontsize=9)
    figure.suptitle("Feature maps of one image")
    return finish(figure, out)
