"""The im2col picture: one receptive field of the input becomes one row of a matrix.

A convolution slides a KH x KW window over the (padded) input. ``im2col`` copies the window at
output position ``(i, j)`` into row ``r = i*OW + j`` of ``cols``, flattened in (p, q, c) order,
so that the whole convolution becomes one matrix product ``cols @ w.reshape(-1, F)``.
The picture shows the four steps: the input with the window, the window itself (each cell
numbered with the column it goes to), the row it becomes (columns labelled ``(p, q, c)``), and
that row inside the full ``(OH*OW, KH*KW*C)`` matrix. By default the window is the one with the
most contrast (:func:`clearest_position`), half stroke and half background, so the order in
which its cells are laid out along the row can be seen.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Rectangle
from numpy.typing import NDArray

from tinycnn import kernels
from tinycnn.kernels.geometry import conv_output_size, same_padding, to_pair
from tinycnn.plots._figure import finish, new_figure

HIGHLIGHT = "tab:red"


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


def _geometry(
    image: NDArray[np.floating],
    kernel_size: int | tuple[int, int],
    strides: int | tuple[int, int],
    padding: str,
) -> tuple[NDArray[np.float64], tuple[int, int], tuple[int, int], NDArray[np.floating]]:
    """The image as (H, W, C), (KH, KW), (SH, SW) and its ``cols`` (OH*OW, KH*KW*C)."""
    x = np.asarray(image, dtype=np.float64)
    x = x[:, :, None] if x.ndim == 2 else x  # (H, W, C)
    if x.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {np.shape(image)}")
    kernel, stride = to_pair(kernel_size, "kernel_size"), to_pair(strides, "strides")
    cols = kernels.im2col(x[None], *kernel, stride, padding)  # (OH*OW, KH*KW*C)
    return x, kernel, stride, cols


def most_inked_position(
    image: NDArray[np.floating],
    kernel_size: int | tuple[int, int] = 3,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
) -> tuple[int, int]:
    """The output position ``(i, j)`` whose receptive field holds the most ink (largest sum).

    A good default window to show: it lies on the digit's strokes, not on the empty border.
    """
    x, (KH, KW), (SH, SW), cols = _geometry(image, kernel_size, strides, padding)
    OW = conv_output_size(x.shape[1], KW, SW, padding)
    r = int(np.argmax(cols.sum(axis=1)))
    return r // OW, r % OW


def clearest_position(
    image: NDArray[np.floating],
    kernel_size: int | tuple[int, int] = 3,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
) -> tuple[int, int]:
    """The output position ``(i, j)`` whose receptive field varies most (largest variance).

    A window on the edge of a stroke, part ink and part background: its row in ``cols`` shows
    a visible pattern, so the (p, q, c) order of the columns can be followed cell by cell.
    """
    x, (KH, KW), (SH, SW), cols = _geometry(image, kernel_size, strides, padding)
    OW = conv_output_size(x.shape[1], KW, SW, padding)
    r = int(np.argmax(cols.var(axis=1)))
    return r // OW, r % OW


def _number_cells(ax: Axes, KH: int, KW: int, C: int) -> None:
    """Write in each window cell the column of ``cols`` it goes to: ``(p*KW + q)*C`` (c = 0)."""
    for p in range(KH):
        for q in range(KW):
            ax.text(q - 0.45, p - 0.45, f"#{(p * KW + q) * C}", ha="left", va="top",
                    fontsize=7, color=HIGHLIGHT)  # fmt: skip


def _draw_window(
    figure: Figure, ax_in: Axes, ax: Axes, window: Rectangle, patch: NDArray, vmax: float
) -> None:
    KH, KW = patch.shape
    ax.imshow(patch, cmap="gray_r", vmin=0, vmax=vmax)
    _annotate_values(ax, patch, vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    for row in (0, KH):  # lines from the window's right corners to the enlarged copy
        start = (window.get_x() + KW, window.get_y() + row)
        figure.add_artist(
            ConnectionPatch(
                start,
                (-0.5, row - 0.5),
                coordsA="data",
                coordsB="data",
                axesA=ax_in,
                axesB=ax,
                color=HIGHLIGHT,
                lw=0.8,
            )
        )


def _draw_cols(ax: Axes, cols: NDArray[np.floating], r: int, vmax: float) -> None:
    rows, width = cols.shape
    ax.imshow(cols, cmap="gray_r", vmin=0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.add_patch(
        Rectangle((-0.5, r - 0.5), width, 1, fill=False, color=HIGHLIGHT, lw=2, clip_on=False)
    )
    ax.annotate(
        f"row {r}",
        (width - 0.5, r),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        color=HIGHLIGHT,
    )
    ax.set_title(f"4. cols {rows}x{width}")
    ax.set_xlabel("KH*KW*C")
    ax.set_ylabel("OH*OW rows")


CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple", "tab:brown")


def _colour_by_channel(ax: Axes, channels: NDArray[np.integer]) -> None:
    """Frame each column of the row strip, and its tick label, in its input channel's colour:
    NHWC puts the C channels of one window cell side by side, so the colours repeat every C
    columns."""
    for column, c in enumerate(channels):
        colour = CHANNEL_COLOURS[c % len(CHANNEL_COLOURS)]
        ax.add_patch(Rectangle((column - 0.5, -0.5), 1, 1, fill=False, color=colour, lw=2))
    for label, c in zip(ax.get_xticklabels(), channels, strict=False):
        label.set_color(CHANNEL_COLOURS[c % len(CHANNEL_COLOURS)])
    for c in range(int(channels.max()) + 1):
        ax.text(1.0, 1.15 + 0.25 * c, f"channel {c}", transform=ax.transAxes, ha="right",
                fontsize=8, color=CHANNEL_COLOURS[c % len(CHANNEL_COLOURS)])  # fmt: skip


def plot_im2col(
    image: NDArray[np.floating],
    kernel_size: int | tuple[int, int] = 3,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
    position: tuple[int, int] | None = None,
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
    position : (int, int), optional
        Output position ``(i, j)``, ``0 <= i < OH``, ``0 <= j < OW``; by default
        :func:`clearest_position`.
    out : path, optional
        Where to save the figure as a PNG (1200 x 600 pixels).

    Returns
    -------
    Figure
        Axes, in order: input, window (KH x KW, channel 0), the row ``cols[r]`` as a strip
        (shape (1, KH*KW*C)), and the full ``cols`` matrix (OH*OW, KH*KW*C) with row ``r``
        outlined, where ``r = i*OW + j``. With C >= 2 each column of the strip is framed in
        its channel's colour (``figure.column_channels``, shape (KH*KW*C,), holds each
        column's c).
    """
    x, (KH, KW), (SH, SW), cols = _geometry(image, kernel_size, strides, padding)
    H, W, C = x.shape
    OH, OW = conv_output_size(H, KH, SH, padding), conv_output_size(W, KW, SW, padding)
    i, j = position if position is not None else clearest_position(x, (KH, KW), (SH, SW), padding)
    if not (0 <= i < OH and 0 <= j < OW):
        raise ValueError(f"position must lie in the {OH}x{OW} output, got {position}")
    pads = (*same_padding(H, KH, SH), *same_padding(W, KW, SW)) if padding == "same" else (0,) * 4
    r, vmax = i * OW + j, float(x.max()) or 1.0

    figure = new_figure(12, 6)
    grid = figure.add_gridspec(2, 3, width_ratios=[3, 2, 1.2], height_ratios=[4, 1])
    ax_in, ax_patch = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    ax_row, ax_cols = figure.add_subplot(grid[1, :2]), figure.add_subplot(grid[:, 2])

    window = _draw_input(ax_in, x, (SH * i - pads[0], SW * j - pads[2], KH, KW), pads, vmax)
    ax_in.set_title(f"1. input {H}x{W}x{C}, window of output pixel ({i}, {j})")
    _draw_window(figure, ax_in, ax_patch, window, cols[r].reshape(KH, KW, C)[:, :, 0], vmax)
    _number_cells(ax_patch, KH, KW, C)
    ax_patch.set_title(f"2. the {KH}x{KW} window" + (" (channel 0)" if C > 1 else ""))
    ax_row.imshow(cols[r][None, :], cmap="gray_r", vmin=0, vmax=vmax, aspect="auto")
    _annotate_values(ax_row, cols[r][None, :], vmax)
    ax_row.set_yticks([])
    if cols.shape[1] <= 27:  # label each column with the window cell it came from
        labels = [f"{p},{q},{c}" for p in range(KH) for q in range(KW) for c in range(C)]
        ax_row.set_xticks(range(cols.shape[1]), labels, fontsize=7, rotation=90)
    channels = np.tile(np.arange(C), KH * KW)  # (KH*KW*C,): the c of each column
    figure.column_channels = channels  # type: ignore[attr-defined]
    if C > 1:
        _colour_by_channel(ax_row, channels)
    ax_row.set_xlabel("column (p, q, c) = p*KW*C + q*C + c")
    ax_row.set_title(f"3. flattened in (p, q, c) order: row r = i*OW + j = {r} of cols")
    _draw_cols(ax_cols, cols, r, vmax)
    figure.suptitle(f"im2col: kernel {KH}x{KW}, stride {SH}x{SW}, padding {padding!r}")
    return finish(figure, out)
