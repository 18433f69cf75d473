"""A kernel sliding over an input with stride and padding, as a picture and as an animated GIF.

The picture follows vdumoulin/conv_arithmetic: blue input cells, empty dashed padding cells, the
window outlined with the kernel's weights printed in the cells it covers, and the cyan output
filling in one position at a time. Its title works the output size formula through::

    OH = floor((H + 2P - KH) / S) + 1

Classic cases (input i, kernel k, padding p, stride s -> output): i=4,k=3 -> 2; i=5,k=3,p=1 -> 5;
p=2 -> 7; s=2 -> 2; s=2,p=1 -> 3; i=6,p=1,s=2 -> 3, where the last padding row is never visited:
that is the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn import kernels
from tinycnn.plots._cells import (
    OUTPUT,
    WINDOW,
    draw_cells,
    draw_padding,
    grid_axes,
    outline,
)
from tinycnn.plots._figure import PathLike, finish, new_figure, save_gif

EXAMPLE_KERNEL = np.array([[0.0, 1, 2], [2, 2, 0], [0, 1, 2]])  # conv_arithmetic's numbers


@dataclass(frozen=True)
class Sliding:
    """One single-channel convolution, position by position.

    Attributes
    ----------
    x : ndarray, shape (H, W)
    w : ndarray, shape (KH, KW)
    S, P : int
        Stride and zero padding (the same on every side and both axes).
    out : ndarray, shape (OH, OW)
        ``out[i, j] = Σ_pq x_pad[S*i + p, S*j + q] * w[p, q]`` (no bias).
    positions : list of (int, int)
        The output positions ``(i, j)`` in the order the window visits them (row by row).
    """

    x: NDArray[np.floating]
    w: NDArray[np.floating]
    S: int
    P: int
    out: NDArray[np.floating]
    positions: list[tuple[int, int]]


def padded_output_size(H: int, K: int, S: int, P: int) -> int:
    """``OH = floor((H + 2P - K) / S) + 1``; raises ValueError when the kernel does not fit."""
    if H + 2 * P < K:
        raise ValueError(f"a kernel of size {K} does not fit an input of {H} padded by {P}")
    return (H + 2 * P - K) // S + 1


def slide_kernel(
    x: NDArray[np.floating], w: NDArray[np.floating], strides: int = 1, padding: int = 0
) -> Sliding:
    """Convolve one channel ``x`` (H, W) with ``w`` (KH, KW), stride ``strides``, ``padding`` zeros.

    The output comes from tinycnn's own ``im2col`` on the padded input, so the picture shows
    exactly the numbers the library computes.
    """
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"expected x (H, W) and w (KH, KW), got {x.shape} and {w.shape}")
    if strides < 1 or padding < 0:
        raise ValueError(f"expected strides >= 1 and padding >= 0, got {strides} and {padding}")
    (H, W), (KH, KW) = x.shape, w.shape
    OH, OW = (
        padded_output_size(H, KH, strides, padding),
        padded_output_size(W, KW, strides, padding),
    )
    x_pad = np.pad(x, padding)  # (H + 2P, W + 2P)
    cols = kernels.im2col(x_pad[None, :, :, None], KH, KW, (strides, strides), "valid")
    out = (cols @ w.ravel()).reshape(OH, OW)  # cols: (OH*OW, KH*KW)
    positions = [(i, j) for i in range(OH) for j in range(OW)]
    return Sliding(x, w, strides, padding, out, positions)


def example_input(H: int = 5, W: int | None = None, seed: int = 0) -> NDArray[np.float64]:
    """Small integers 0..3 in an (H, W) grid, easy to multiply in one's head."""
    return np.random.default_rng(seed).integers(0, 4, (H, W or H)).astype(np.float64)


def size_formula(H: int, K: int, S: int, P: int) -> str:
    """The output size formula with the numbers put in, e.g. ``⌊(5 + 2·1 − 3)/2⌋ + 1 = 3``."""
    return f"⌊({H} + 2·{P} − {K})/{S}⌋ + 1 = {padded_output_size(H, K, S, P)}"


def _draw_frame(ax_in: Axes, ax_out: Axes, s: Sliding, k: int) -> None:
    """Frame ``k``: the window at ``positions[k]``, the outputs up to it filled in."""
    (H, W), (KH, KW), P = s.x.shape, s.w.shape, s.P
    i, j = s.positions[k]
    top, left = s.S * i - P, s.S * j - P  # the window's corner in unpadded coordinates
    for ax in (ax_in, ax_out):
        ax.clear()
    draw_padding(ax_in, H, W, P)
    draw_cells(ax_in, s.x, fontsize=11)
    for (p, q), weight in np.ndenumerate(s.w):
        ax_in.text(left + q + 0.42, top + p + 0.42, f"×{weight:g}", ha="right", va="bottom",
                   fontsize=7, color=WINDOW, zorder=6)  # fmt: skip
    outline(ax_in, top, left, KH, KW)
    grid_axes(ax_in, -P, -P, H - 1 + P, W - 1 + P)
    ax_in.set_title(f"input {H}x{W}, padding P={P}, stride S={s.S}, kernel {KH}x{KW}")
    done = np.full(s.out.shape, "", dtype=object)
    for a, b in s.positions[: k + 1]:
        done[a, b] = f"{s.out[a, b]:g}"
    draw_cells(ax_out, np.zeros(s.out.shape), colour=OUTPUT, fmt="")
    for (a, b), text in np.ndenumerate(done):
        ax_out.text(b, a, text, ha="center", va="center", fontsize=11)
    outline(ax_out, i, j, 1, 1)
    grid_axes(ax_out, -P, -P, H - 1 + P, W - 1 + P)
    ax_out.set_title(f"output {s.out.shape[0]}x{s.out.shape[1]}: out[{i},{j}] = {s.out[i, j]:g}")


def _sliding_figure(s: Sliding) -> tuple[Figure, Axes, Axes]:
    (H, W), (KH, KW) = s.x.shape, s.w.shape
    figure = new_figure(9, 5)
    ax_in, ax_out = figure.subplots(1, 2)
    figure.suptitle(
        f"OH = ⌊(H + 2P − KH)/S⌋ + 1 = {size_formula(H, KH, s.S, s.P)},   "
        f"OW = {size_formula(W, KW, s.S, s.P)}"
    )
    return figure, ax_in, ax_out


def plot_sliding_kernel(
    x: NDArray[np.floating] | None = None,
    w: NDArray[np.floating] | None = None,
    strides: int = 2,
    padding: int = 1,
    frame: int | None = None,
    out: PathLike | None = None,
) -> Figure:
    """The kernel at one position over the padded input, and the outputs computed so far.

    Parameters
    ----------
    x : ndarray, shape (H, W), optional
        One input channel; by default :func:`example_input` (5x5 small integers).
    w : ndarray, shape (KH, KW), optional
        The kernel; by default conv_arithmetic's 3x3 example.
    strides, padding : int
        ``S`` and ``P`` (zeros on every side).
    frame : int, optional
        Which position to show, ``0 <= frame < OH*OW`` (row by row); by default the last.
    out : path, optional
        Where to save the PNG (900 x 500 pixels).

    Returns
    -------
    Figure
        With ``figure.sliding``, the :class:`Sliding` whose numbers it draws.
    """
    s = slide_kernel(example_input() if x is None else x, EXAMPLE_KERNEL if w is None else w,
                     strides, padding)  # fmt: skip
    k = len(s.positions) - 1 if frame is None else frame
    if not 0 <= k < len(s.positions):
        raise ValueError(f"frame must be in 0..{len(s.positions) - 1}, got {frame}")
    figure, ax_in, ax_out = _sliding_figure(s)
    _draw_frame(ax_in, ax_out, s, k)
    figure.sliding = s  # type: ignore[attr-defined]
    return finish(figure, out)


def animate_sliding_kernel(
    out: PathLike,
    x: NDArray[np.floating] | None = None,
    w: NDArray[np.floating] | None = None,
    strides: int = 2,
    padding: int = 1,
    fps: int = 1,
) -> Sliding:
    """Save an animated GIF with one frame per output position (same drawing as the picture).

    Parameters are those of :func:`plot_sliding_kernel`; ``out`` is the ``.gif`` path (900 x 500
    pixels per frame, ``fps`` frames per second).

    Returns
    -------
    Sliding
        The numbers the frames draw; frame ``k`` shows the window at ``positions[k]``.
    """
    s = slide_kernel(example_input() if x is None else x, EXAMPLE_KERNEL if w is None else w,
                     strides, padding)  # fmt: skip
    figure, ax_in, ax_out = _sliding_figure(s)
    save_gif(figure, lambda k: _draw_frame(ax_in, ax_out, s, k), len(s.positions), out, fps)
    return s
