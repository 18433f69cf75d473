"""Dropout at training vs inference (inverted dropout, as Keras and tinycnn do it).

In training a ``Dropout(rate)`` layer keeps each value with probability ``1 - rate`` and scales
the survivors by ``1 / (1 - rate)``, so the expected output equals the input; at inference it is
the identity. The numbers come from tinycnn's ``Dropout`` layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from numpy.typing import NDArray

from tinycnn.layers import Dropout
from tinycnn.plots._cells import GRADIENT, INPUT, OUTPUT, draw_cells, grid_axes
from tinycnn.plots._figure import PathLike, finish, new_figure


@dataclass(frozen=True)
class DropoutExample:
    """What ``Dropout(rate)`` does to one array.

    Attributes
    ----------
    x, training, inference : ndarray, shape (H, W)
        The input, the output with ``training=True`` and with ``training=False``.
    kept : ndarray of bool, shape (H, W)
        Which values survived in training.
    rate : float
    """

    x: NDArray[np.floating]
    training: NDArray[np.floating]
    inference: NDArray[np.floating]
    kept: NDArray[np.bool_]
    rate: float


def apply_dropout(x: NDArray[np.floating], rate: float = 0.5, seed: int = 0) -> DropoutExample:
    """Run ``Dropout(rate, seed=seed)`` on ``x`` (H, W) in training and at inference."""
    x = np.asarray(x, dtype=np.float64)
    layer = Dropout(rate, seed=seed)
    training = layer.forward(x[None], training=True)[0]
    kept = layer.backward(np.ones((1, *x.shape)))[0] != 0  # the mask the gradient also uses
    inference = layer.forward(x[None], training=False)[0]
    return DropoutExample(x, training, inference, kept, float(rate))


def plot_dropout(
    x: NDArray[np.floating] | None = None,
    rate: float = 0.5,
    seed: int = 0,
    out: PathLike | None = None,
) -> Figure:
    """Input, training output (dropped cells empty, survivors scaled) and inference output.

    Parameters
    ----------
    x : ndarray, shape (H, W), optional
        By default a 4x6 grid of the numbers 1..9.
    rate : float
        Fraction dropped.
    seed : int
        Seed of the layer's mask.
    out : path, optional
        Where to save the PNG (1100 x 350 pixels).

    Returns
    -------
    Figure
        With ``figure.dropout``, the :class:`DropoutExample` it draws.
    """
    if x is None:
        x = np.random.default_rng(3).integers(1, 10, (4, 6)).astype(np.float64)
    d = apply_dropout(x, rate, seed)
    figure = new_figure(11, 3.5)
    ax_x, ax_train, ax_infer = figure.subplots(1, 3)
    H, W = d.x.shape
    draw_cells(ax_x, d.x, fontsize=11)
    ax_x.set_title("x", fontsize=11)
    draw_cells(ax_train, np.where(d.kept, d.training, np.nan), colour=OUTPUT, fontsize=11)
    for (h, w), kept in np.ndenumerate(d.kept):
        if not kept:
            ax_train.add_patch(
                Rectangle((w - 0.5, h - 0.5), 1, 1, facecolor="white", edgecolor="0.3")
            )
            ax_train.text(w, h, "0", ha="center", va="center", fontsize=11, color=GRADIENT)
    dropped = int((~d.kept).sum())
    ax_train.set_title(
        f"training: {dropped} of {d.x.size} dropped (0), survivors × 1/(1−{rate:g})", fontsize=11
    )
    draw_cells(ax_infer, d.inference, colour=INPUT, fontsize=11)
    ax_infer.set_title("inference: the identity, out = x", fontsize=11)
    for ax in (ax_x, ax_train, ax_infer):
        grid_axes(ax, 0, 0, H - 1, W - 1)
    figure.suptitle(f"Dropout(rate={rate:g})")
    figure.dropout = d  # type: ignore[attr-defined]
    return finish(figure, out)
