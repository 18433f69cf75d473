"""Convolution filters as pictures.

A first-layer filter of a grey-scale network is a small KH x KW image: what each of the F
output channels looks for in the raw pixels (edges, strokes, blobs). A deeper layer's kernel
``w[:, :, c, f]`` says how filter ``f`` combines input channel ``c``; all F * C of them are
shown as one mosaic, input channels down, filters across.

Colours are symmetric around zero (red positive, blue negative) on one scale per layer, so
filters of the same layer can be compared.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.model import Sequential
from tinycnn.plots._figure import finish, new_figure

CMAP = "RdBu_r"


def conv_layers(model: Sequential) -> list[Any]:
    """The ``Conv2D`` layers of ``model``, in order."""
    return [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]


def find_conv_layer(model: Sequential, name: str | None = None) -> Any:
    """The conv layer called ``name``, or the first one when ``name`` is None."""
    layers = conv_layers(model)
    if not layers:
        raise ValueError("the model has no Conv2D layer")
    if name is None:
        return layers[0]
    for layer in layers:
        if layer.describe() == name:
            return layer
    choices = ", ".join(layer.describe() for layer in layers)
    raise ValueError(f"no Conv2D layer named {name!r}; the conv layers are {choices}")


def filter_mosaic(w: NDArray[np.floating], gap: int = 1) -> NDArray[np.float64]:
    """Tile every ``w[:, :, c, f]`` into one array, input channels down and filters across.

    Parameters
    ----------
    w : ndarray, shape (KH, KW, C, F)
    gap : int
        Pixels of NaN (drawn blank) between tiles.

    Returns
    -------
    mosaic : ndarray, shape (C*(KH+gap)-gap, F*(KW+gap)-gap)
        ``mosaic[c*(KH+gap) + p, f*(KW+gap) + q] = w[p, q, c, f]``.
    """
    KH, KW, C, F = w.shape
    mosaic = np.full((C * (KH + gap) - gap, F * (KW + gap) - gap), np.nan)
    for c in range(C):
        for f in range(F):
            top, left = c * (KH + gap), f * (KW + gap)
            mosaic[top : top + KH, left : left + KW] = w[:, :, c, f]
    return mosaic


def figure_size(kernel_shape: tuple[int, ...]) -> tuple[float, float]:
    """Width and height in inches fitting the grid (one channel) or the mosaic (several)."""
    KH, KW, C, F = kernel_shape
    if C == 1:
        columns = min(F, 8)
        return 1.2 * columns + 1.5, max(1.2 * math.ceil(F / columns) * KH / KW + 0.8, 2.5)
    aspect = (C * (KH + 1)) / (F * (KW + 1))
    return 10.0, min(max(9.0 * aspect + 1.3, 3.0), 14.0)


def _plot_single_channel(figure: Figure, w: NDArray[np.floating], limit: float) -> Any:
    F = w.shape[3]
    columns = min(F, 8)
    axes = figure.subplots(math.ceil(F / columns), columns, squeeze=False).ravel()
    image = None
    for f, ax in enumerate(axes):
        ax.set_axis_off()
        if f < F:
            image = ax.imshow(w[:, :, 0, f], cmap=CMAP, vmin=-limit, vmax=limit)
            ax.set_title(f"{f}", fontsize=8)
    return image


def _plot_mosaic(figure: Figure, w: NDArray[np.floating], limit: float) -> Any:
    KH, KW, C, F = w.shape
    ax = figure.subplots()
    image = ax.imshow(filter_mosaic(w), cmap=CMAP, vmin=-limit, vmax=limit)
    step = max(1, F // 16)
    ax.set_xticks(np.arange(0, F, step) * (KW + 1) + (KW - 1) / 2, np.arange(0, F, step))
    step = max(1, C // 16)
    ax.set_yticks(np.arange(0, C, step) * (KH + 1) + (KH - 1) / 2, np.arange(0, C, step))
    ax.set_xlabel("filter f (output channel)")
    ax.set_ylabel("input channel c")
    return image


def plot_filters(
    model: Sequential, layer: str | None = None, out: str | os.PathLike[str] | None = None
) -> Figure:
    """Every filter of one conv layer: a grid of images (one input channel) or a mosaic.

    Parameters
    ----------
    model : Sequential
        A built model with at least one ``Conv2D``.
    layer : str, optional
        Name of the conv layer (e.g. ``"conv2d_1"``); the first conv layer by default.
    out : path, optional
        Where to save the figure as a PNG, 100 pixels per inch of :func:`figure_size`.

    Returns
    -------
    Figure
        With one input channel, one Axes per filter ``f`` showing ``w[:, :, 0, f]``; otherwise
        one Axes showing :func:`filter_mosaic` of the kernel. A colour bar gives the scale.
    """
    conv = find_conv_layer(model, layer)
    w = np.asarray(conv.params["w"], dtype=np.float64)  # (KH, KW, C, F)
    limit = float(np.abs(w).max()) or 1.0
    figure = new_figure(*figure_size(w.shape))
    draw = _plot_single_channel if w.shape[2] == 1 else _plot_mosaic
    image = draw(figure, w, limit)
    figure.colorbar(image, ax=figure.axes, shrink=0.8, label="weight")
    KH, KW, C, F = w.shape
    figure.suptitle(f"Filters of {conv.describe()}: {F} filters of {KH}x{KW}x{C}")
    return finish(figure, out)
