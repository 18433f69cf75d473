"""Max pooling forward, and where its gradient goes, ties included.

Forward keeps the largest value of each window. Backward sends each ``dout[i, j]`` to the cell
that won window ``(i, j)`` (CS231n's "switches") and 0 everywhere else. When several cells of a
window tie for the maximum, the FIRST in row-major window order wins, as in TensorFlow and
``np.argmax``; the other tied cells get 0. The numbers come from tinycnn's ``MaxPool2D``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.layers import MaxPool2D
from tinycnn.plots._cells import GRADIENT, OUTPUT, WINDOW, draw_cells, grid_axes, outline
from tinycnn.plots._figure import PathLike, finish, new_figure

# Every window but the last holds a tie (two, three, two cells); the last has a single maximum.
EXAMPLE_X = np.array([[1.0, 3, 2, 2], [3, 0, 1, 2], [4, 1, 0, 5], [2, 4, 3, 1]])
EXAMPLE_DOUT = np.array([[0.5, -1.0], [2.0, 0.25]])


@dataclass(frozen=True)
class PoolRouting:
    """Max pooling of one channel and the routing of its gradient.

    Attributes
    ----------
    out : ndarray, shape (OH, OW)
    dx : ndarray, shape (H, W)
        ``MaxPool2D.backward(dout)``: ``dout[i, j]`` at the winner of window (i, j), 0 elsewhere.
    winners : list of (int, int)
        The winning cell ``(h, w)`` of each window, row by row.
    tied : list of (int, int)
        Cells equal to their window's maximum that did NOT win (they get no gradient).
    """

    out: NDArray[np.floating]
    dx: NDArray[np.floating]
    winners: list[tuple[int, int]]
    tied: list[tuple[int, int]]


def route_maxpool(
    x: NDArray[np.floating], dout: NDArray[np.floating], pool_size: int = 2
) -> PoolRouting:
    """Pool one channel ``x`` (H, W) with non-overlapping windows and route ``dout`` (OH, OW)."""
    x, dout = np.asarray(x, dtype=np.float64), np.asarray(dout, dtype=np.float64)
    layer = MaxPool2D(pool_size)
    out = layer.forward(x[None, :, :, None])[0, :, :, 0]  # (OH, OW)
    if dout.shape != out.shape:
        raise ValueError(f"expected dout of shape {out.shape}, got {dout.shape}")
    dx = layer.backward(dout[None, :, :, None])[0, :, :, 0]  # (H, W)
    K = pool_size
    winners, tied = [], []
    for (i, j), best in np.ndenumerate(out):
        cells = [(K * i + p, K * j + q) for p in range(K) for q in range(K)]
        maxima = [cell for cell in cells if x[cell] == best]
        winners.append(maxima[0])
        tied += maxima[1:]
    return PoolRouting(out, dx, winners, tied)


def plot_maxpool(
    x: NDArray[np.floating] | None = None,
    dout: NDArray[np.floating] | None = None,
    pool_size: int = 2,
    out: PathLike | None = None,
) -> Figure:
    """Four panels: x with winners outlined and losing ties crossed, out, dout, dx.

    Parameters
    ----------
    x : ndarray, shape (H, W), optional
        One channel; by default a 4x4 example with ties in three of its four windows.
    dout : ndarray, shape (OH, OW), optional
        The upstream gradient.
    pool_size : int
        Window size and stride.
    out : path, optional
        Where to save the PNG (1200 x 400 pixels).

    Returns
    -------
    Figure
        With ``figure.routing``, the :class:`PoolRouting` it draws.
    """
    x = EXAMPLE_X if x is None else np.asarray(x, dtype=np.float64)
    dout = EXAMPLE_DOUT if dout is None else np.asarray(dout, dtype=np.float64)
    r = route_maxpool(x, dout, pool_size)
    figure = new_figure(12, 4)
    ax_x, ax_out, ax_dout, ax_dx = figure.subplots(1, 4)
    (H, W), (OH, OW), K = x.shape, r.out.shape, pool_size
    draw_cells(ax_x, x, fontsize=12)
    for i in range(OH):
        for j in range(OW):
            outline(ax_x, K * i, K * j, K, K, colour="0.2")
    for h, w in r.winners:
        outline(ax_x, h, w, 1, 1, colour=WINDOW)
    for h, w in r.tied:
        ax_x.plot([w - 0.4, w + 0.4], [h - 0.4, h + 0.4], color=GRADIENT, lw=1)
    ax_x.set_title("x: winner outlined,\ntied losers struck through", fontsize=10)
    draw_cells(ax_out, r.out, colour=OUTPUT, fontsize=12)
    ax_out.set_title("out = max of each window", fontsize=10)
    draw_cells(ax_dout, dout, colour="#fcbba1", fontsize=12)
    ax_dout.set_title("dout (from the next layer)", fontsize=10)
    draw_cells(ax_dx, r.dx, colour="#fcbba1", fontsize=12)
    for h, w in r.winners:
        outline(ax_dx, h, w, 1, 1, colour=GRADIENT)
    ax_dx.set_title("dx: dout at the FIRST maximum,\n0 elsewhere (ties too)", fontsize=10)
    for ax, (rows, cols) in zip(
        (ax_x, ax_out, ax_dout, ax_dx), ((H, W), (OH, OW), (OH, OW), (H, W)), strict=True
    ):
        grid_axes(ax, 0, 0, H - 1, W - 1)
        ax.set_xlim(-0.6, max(rows, cols) - 0.4)
    figure.suptitle(f"MaxPool2D({K}): forward and backward")
    figure.routing = r  # type: ignore[attr-defined]
    return finish(figure, out)
