"""The im2col picture: one receptive field of the input becomes one row of a matrix.

A convolution slides a KH x KW window over the (padded) input. ``im2col`` copies the window at
output position ``(i, j)`` into row ``r = i*OW + j`` of ``cols``, flattened in (p, q, c) order,
so that the whole convolution becomes one matrix product ``cols @ w.reshape(-1, F)``.
The picture shows the four steps: the input with the window, the window itself, the row it
becomes, and that row inside the full ``(OH*OW, KH*KW*C)`` matrix.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Rectangle
from numpy.typing import NDArray

from tinycnn.plots._figure import finish, new_figure

HIGHLIGHT = "tab:red"


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _annotate_values(ax: Axes, values: NDArray[np.floating], vmax: float) -> None:
    """Print each value in its cell when there are few enough to read."""
    if values.size > 49:
        return
    for (a, b), v in np.ndenumerate(values):
        colour = "white" if v > 0.5 * vmax else "black"
        ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=7, color=colour)


def _draw_input(
    ax: Axes,
    x: NDArray[np.floating],
    field: tuple[int, int, int, int],
    padding: tuple[int, int, int, int],
    vmax: float,
) -> Rectangle:
    top, left, KH, KW = field
    pt, pb, pl, pr = padding
    H, W = x.shape[:2]
    ax.imshow(x[:, :, 0], cmap="gray_r", vmin=0, vmax=vmax)
    ax.set_xlim(-pl - 0.5, W + pr - 0.5)
    ax.set_ylim(H + pb - 0.5, -pt - 0.5)
    if pt or pb or pl or pr:
        ax.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, linestyle=":", color="0.5"))
    window = Rectangle((left - 0.5, top - 0.5), KW, KH, fill=False, color=HIGHLIGHT, lw=2)
    ax.add_patch(window)
    return window


def plot_im2col(
    image: NDArray[np.floating],
    kernel_size: int | tuple[int, int] = 3,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
    position: tuple[int, int] = (0, 0),
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """Input, highlighted receptive field at output ``position``, and the im2col row it becomes.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        One input image; channel 0 is drawn, all C channels go into the row.
    kernel_size, strides : int or (int, int)
        KH, KW and S as for ``Conv2D``.
    padding : {"valid", "same"}
    position : (int, int)
        Output position ``(i, j)``, ``0 <= i < OH``, ``0 <= j < OW``.
    out : path, optional
        Where to save the figure as a PNG (1200 x 600 pixels).

    Returns
    -------
    Figure
        Axes, in order: input, window (KH x KW, channel 0), the row ``cols[r]`` as a strip
        (shape (1, KH*KW*C)), and the full ``cols`` matrix (OH*OW, KH*KW*C) with row ``r``
        outlined, where ``r = i*OW + j``.
    """
    from tinycnn import kernels
    from tinycnn.kernels.im2col import conv_output_size, same_padding

    x = np.asarray(image, dtype=np.float64)
    x = x[:, :, None] if x.ndim == 2 else x  # (H, W, C)
    if x.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {image.shape}")
    (KH, KW), (SH, SW) = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    H, W, C = x.shape
    OH, OW = conv_output_size(H, KH, SH, padding), conv_output_size(W, KW, SW, padding)
    i, j = position
    if not (0 <= i < OH and 0 <= j < OW):
        raise ValueError(f"position must lie in the {OH}x{OW} output, got {position}")
    pads = (*same_padding(H, KH, SH), *same_padding(W, KW, SW)) if padding == "same" else (0,) * 4
    cols = kernels.im2col(x[None], KH, KW, (SH, SW), padding)  # (OH*OW, KH*KW*C)
    r = i * OW + j
    vmax = float(x.max()) or 1.0

    figure = new_figure(12, 6)
    grid = figure.add_gridspec(2, 3, width_ratios=[3, 2, 1.2], height_ratios=[4, 1])
    ax_in, ax_patch = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    ax_row, ax_cols = figure.add_subplot(grid[1, :2]), figure.add_subplot(grid[:, 2])

    field = (SH * i - pads[0], SW * j - pads[2], KH, KW)
    window = _draw_input(ax_in, x, field, pads, vmax)
    ax_in.set_title(f"1. input {H}x{W}x{C}, window at output ({i}, {j})")

    patch = cols[r].reshape(KH, KW, C)[:, :, 0]  # (KH, KW)
    ax_patch.imshow(patch, cmap="gray_r", vmin=0, vmax=vmax)
    _annotate_values(ax_patch, patch, vmax)
    ax_patch.set_title(f"2. the {KH}x{KW} window" + (" (channel 0)" if C > 1 else ""))
    ax_patch.set_xticks([])
    ax_patch.set_yticks([])
    for corner in [(-0.5, -0.5), (-0.5, KH - 0.5)]:
        start = (window.get_x() + KW, window.get_y() + (corner[1] + 0.5))
        figure.add_artist(
            ConnectionPatch(
                start,
                corner,
                coordsA="data",
                coordsB="data",
                axesA=ax_in,
                axesB=ax_patch,
                color=HIGHLIGHT,
                lw=0.8,
            )
        )

    ax_row.imshow(cols[r][None, :], cmap="gray_r", vmin=0, vmax=vmax, aspect="auto")
    _annotate_values(ax_row, cols[r][None, :], vmax)
    ax_row.set_yticks([])
    ax_row.set_xlabel("column  p*KW*C + q*C + c")
    ax_row.set_title(f"3. flattened in (p, q, c) order: row r = i*OW + j = {r} of cols")

    ax_cols.imshow(cols, cmap="gray_r", vmin=0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax_cols.add_patch(
        Rectangle((-0.5, r - 0.5), KH * KW * C, 1, fill=False, color=HIGHLIGHT, lw=2, clip_on=False)
    )
    ax_cols.annotate(
        f"row {r}",
        (KH * KW * C - 0.5, r),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        color=HIGHLIGHT,
    )
    ax_cols.set_title(f"4. cols {OH * OW}x{KH * KW * C}")
    ax_cols.set_xlabel("KH*KW*C")
    ax_cols.set_ylabel("OH*OW rows")
    figure.suptitle(f"im2col: kernel {KH}x{KW}, stride {SH}x{SW}, padding {padding!r}")
    return finish(figure, out)
