"""Several input channels, one filter, one output map: the sum over channels plus a bias.

A filter of a ``Conv2D`` with ``C`` input channels is a ``(KH, KW, C)`` block of the kernel
``w[:, :, :, f]``. At every output position it multiplies each input channel by its own 3x3
slice and adds all ``C`` partial sums and the bias into ONE number::

    out[i, j] = b + Σ_c ( Σ_pq x_pad[S*i + p, S*j + q, c] * w[p, q, c] )

The picture (after CS231n's convolution demo: a 5x5x3 input, a 3x3x3 filter, stride 2, pad 1)
shows one row per channel, the window, that channel's partial sum, and the output map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn import kernels
from tinycnn.plots._cells import OUTPUT, draw_cells, draw_padding, grid_axes, outline
from tinycnn.plots._figure import PathLike, finish, new_figure
from tinycnn.plots.sliding import padded_output_size


@dataclass(frozen=True)
class ChannelSum:
    """One output value as a sum over input channels.

    Attributes
    ----------
    partial : ndarray, shape (C,)
        ``Σ_pq x_pad[S*i+p, S*j+q, c] * w[p, q, c]`` for each channel ``c``.
    value : float
        ``partial.sum() + b``, the output at ``position``.
    out : ndarray, shape (OH, OW)
        The whole output map of this filter.
    """

    partial: NDArray[np.floating]
    value: float
    out: NDArray[np.floating]


def channel_sums(
    x: NDArray[np.floating],
    w: NDArray[np.floating],
    b: float,
    position: tuple[int, int],
    strides: int = 1,
    padding: int = 0,
) -> ChannelSum:
    """Split output ``position`` of filter ``w`` (KH, KW, C) on ``x`` (H, W, C) by channel."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if x.ndim != 3 or w.ndim != 3 or x.shape[2] != w.shape[2]:
        raise ValueError(f"expected x (H, W, C) and w (KH, KW, C), got {x.shape} and {w.shape}")
    (H, W, C), (KH, KW, _) = x.shape, w.shape
    OH, OW = (
        padded_output_size(H, KH, strides, padding),
        padded_output_size(W, KW, strides, padding),
    )
    i, j = position
    if not (0 <= i < OH and 0 <= j < OW):
        raise ValueError(f"position must lie in the {OH}x{OW} output, got {position}")
    x_pad = np.pad(x, ((padding, padding), (padding, padding), (0, 0)))
    cols = kernels.im2col(x_pad[None], KH, KW, (strides, strides), "valid")  # (OH*OW, KH*KW*C)
    products = cols.reshape(OH * OW, KH * KW, C) * w.reshape(1, KH * KW, C)
    partial_maps = products.sum(axis=1).reshape(OH, OW, C)  # one map per channel
    partial = partial_maps[i, j]
    return ChannelSum(partial, float(partial.sum() + b), partial_maps.sum(axis=2) + b)


def cs231n_example(seed: int = 1) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """A 5x5x3 input of integers 0..2, a 3x3x3 filter of -1, 0, 1 and bias 1 (CS231n's demo)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (5, 5, 3)).astype(np.float64)
    w = rng.integers(-1, 2, (3, 3, 3)).astype(np.float64)
    return x, w, 1.0


def _draw_channel(
    axes: tuple[Axes, Axes],
    x: NDArray[np.floating],
    w: NDArray[np.floating],
    P: int,
    corner: tuple[int, int],
    c: str,
    partial: float,
) -> None:
    """One row: channel ``c`` of the padded input with the window at ``corner``, its kernel."""
    (ax_x, ax_w), (H, W), (KH, KW) = axes, x.shape, w.shape
    draw_padding(ax_x, H, W, P)
    draw_cells(ax_x, x)
    outline(ax_x, *corner, KH, KW)
    grid_axes(ax_x, -P, -P, H - 1 + P, W - 1 + P)
    ax_x.set_title(f"x[:, :, {c}]", fontsize=10)
    draw_cells(ax_w, w, colour="#fdd0a2")
    grid_axes(ax_w, 0, 0, KH - 1, KW - 1)
    ax_w.set_title(f"w[:, :, {c}]  →  {partial:g}", fontsize=10)


def plot_multichannel(
    x: NDArray[np.floating] | None = None,
    w: NDArray[np.floating] | None = None,
    b: float | None = None,
    strides: int = 2,
    padding: int = 1,
    position: tuple[int, int] | None = None,
    out: PathLike | None = None,
) -> Figure:
    """Each input channel with the window and its kernel slice, the partial sums, the output.

    Parameters
    ----------
    x : ndarray, shape (H, W, C), optional
        By default :func:`cs231n_example`'s input (with its ``w`` and ``b``).
    w : ndarray, shape (KH, KW, C), optional
        One filter, ``kernel[:, :, :, f]`` of a ``Conv2D``.
    b : float, optional
    strides, padding : int
    position : (int, int), optional
        The output position explained; by default the middle one, ``(OH // 2, OW // 2)``.
    out : path, optional
        Where to save the PNG (1000 x 300*C pixels, at least 700 high).

    Returns
    -------
    Figure
        With ``figure.channel_sum``, the :class:`ChannelSum` it draws.
    """
    example = cs231n_example()
    x = example[0] if x is None else np.asarray(x, dtype=np.float64)
    w = example[1] if w is None else np.asarray(w, dtype=np.float64)
    b = example[2] if b is None else float(b)
    (H, W, C), (KH, KW, _), P = x.shape, w.shape, padding
    if position is None:
        OH, OW = padded_output_size(H, KH, strides, P), padded_output_size(W, KW, strides, P)
        position = (OH // 2, OW // 2)
    result = channel_sums(x, w, b, position, strides, padding)
    (i, j), (top, left) = position, (strides * position[0] - P, strides * position[1] - P)
    figure = new_figure(10, max(7, 2.3 * C))
    grid = figure.add_gridspec(C, 3, width_ratios=[H + 2 * P, KW + 4, 8])
    for c in range(C):
        axes = figure.add_subplot(grid[c, 0]), figure.add_subplot(grid[c, 1])
        _draw_channel(axes, x[:, :, c], w[:, :, c], P, (top, left), f"{c}", result.partial[c])
    ax_out = figure.add_subplot(grid[:, 2])
    OH, OW = result.out.shape
    draw_cells(ax_out, result.out, colour=OUTPUT)
    outline(ax_out, i, j, 1, 1)
    grid_axes(ax_out, 0, 0, OH - 1, OW - 1)
    terms = " + ".join(f"{v:g}" for v in result.partial)
    ax_out.set_title(f"out[{i},{j}] = {terms} + b({b:g})\n= {result.value:g}", fontsize=10)
    figure.suptitle(
        f"{C} input channels, one {KH}x{KW}x{C} filter, one {OH}x{OW} output map "
        f"(stride {strides}, padding {P})"
    )
    figure.channel_sum = result  # type: ignore[attr-defined]
    return finish(figure, out)
