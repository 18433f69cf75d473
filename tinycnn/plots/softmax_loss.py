"""Softmax and its loss: from scores to probabilities to ``-log p`` of the true class.

For scores (logits) ``z`` of K classes, ``p_k = exp(z_k - m) / Σ_j exp(z_j - m)`` with
``m = max z`` (subtracting m changes nothing and keeps exp from overflowing), and the loss of
an example of class y is ``-log p_y``: 0 when ``p_y = 1``, growing without bound as ``p_y``
goes to 0. The picture walks through the four steps on a small example whose largest score is
not the true class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.losses import softmax
from tinycnn.plots._figure import PathLike, finish, new_figure

EXAMPLE_LOGITS = np.array([1.0, 3.0, 0.5, 2.2, -0.5])
EXAMPLE_LABEL = 3


@dataclass(frozen=True)
class SoftmaxLoss:
    """The numbers the picture draws.

    Attributes
    ----------
    z : ndarray, shape (K,)
        Scores.
    shifted : ndarray, shape (K,)
        ``exp(z - max z)``.
    p : ndarray, shape (K,)
        ``shifted / shifted.sum()``.
    label : int
    loss : float
        ``-log p[label]``.
    """

    z: NDArray[np.floating]
    shifted: NDArray[np.floating]
    p: NDArray[np.floating]
    label: int
    loss: float


def softmax_loss(z: NDArray[np.floating], label: int) -> SoftmaxLoss:
    """Softmax and ``-log p_label`` of one score vector, every step kept."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1 or not 0 <= label < z.size:
        raise ValueError(
            f"expected scores of shape (K,) and a label in 0..K-1, got {z.shape}, {label}"
        )
    shifted = np.exp(z - z.max())
    p = shifted / shifted.sum()
    return SoftmaxLoss(z, shifted, p, int(label), float(-np.log(p[label])))


def plot_softmax_loss(
    z: NDArray[np.floating] | None = None, label: int | None = None, out: PathLike | None = None
) -> Figure:
    """Scores, ``exp(z - m)``, probabilities, and the loss ``-log p_y`` on its curve.

    Parameters
    ----------
    z : ndarray, shape (K,), optional
        Default ``EXAMPLE_LOGITS``.
    label : int, optional
        The true class; default ``EXAMPLE_LABEL``.
    out : path, optional
        Where to save the figure as a PNG (1300 x 350 pixels).

    Returns
    -------
    Figure
        Four Axes; ``figure.softmax`` is the :class:`SoftmaxLoss` drawn.
    """
    z = EXAMPLE_LOGITS if z is None else z
    result = softmax_loss(z, EXAMPLE_LABEL if label is None else label)
    assert np.allclose(result.p, softmax(result.z[None])[0])
    K, y = result.z.size, result.label
    colours = ["tab:orange" if k == y else "tab:blue" for k in range(K)]
    figure = new_figure(13, 3.5)
    ax_z, ax_exp, ax_p, ax_loss = figure.subplots(1, 4)
    steps = [
        (ax_z, result.z, "1. scores z", "{:.1f}"),
        (ax_exp, result.shifted, "2. exp(z - max z)", "{:.2f}"),
        (ax_p, result.p, "3. p = exp(...) / sum: adds up to 1", "{:.2f}"),
    ]
    for ax, values, title, form in steps:
        ax.bar(range(K), values, color=colours)
        for k, v in enumerate(values):
            ax.text(k, v, form.format(v), ha="center", va="bottom" if v >= 0 else "top", fontsize=8)
        ax.set_xticks(range(K))
        ax.set_xlabel("class (orange: the true one)")
        ax.set_title(title, fontsize=10)
    ax_z.axhline(0, color="0.5", lw=0.8)
    grid = np.linspace(0.01, 1.0, 200)
    ax_loss.plot(grid, -np.log(grid), color="0.3")
    ax_loss.plot([result.p[y]], [result.loss], "o", color="tab:orange")
    ax_loss.annotate(
        f"p_{y} = {result.p[y]:.2f}\nloss = -log p_{y} = {result.loss:.2f}",
        (result.p[y], result.loss),
        xytext=(12, 12),
        textcoords="offset points",
        fontsize=9,
    )
    ax_loss.set_xlabel("probability of the true class")
    ax_loss.set_ylabel("loss -log p")
    ax_loss.set_title("4. the loss: -log p of the true class", fontsize=10)
    figure.softmax = result  # type: ignore[attr-defined]
    return finish(figure, out)
