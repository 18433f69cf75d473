"""SGD, momentum and Adam on a 2-D loss surface, each step taken by tinycnn's own optimizers.

The surface is d2l's ill-conditioned bowl ``f(w) = 0.1 w1² + 2 w2²`` (gradient ``(0.2 w1,
4 w2)``). Plain gradient descent multiplies ``w2`` by ``1 - 4 lr`` each step: at ``lr = 0.4``
that is -0.6 (zig-zag, converges), at ``lr = 0.6`` it is -1.4, so ``w2`` grows and the path
diverges. Momentum 0.5 at the same ``lr = 0.6`` converges, because the velocity averages the
zig-zag away; Adam scales each coordinate by its own gradient size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.optim import SGD, Adam
from tinycnn.plots._figure import PathLike, finish, new_figure


def bowl(w: NDArray[np.floating]) -> float:
    """``f(w) = 0.1 w1² + 2 w2²``."""
    return float(0.1 * w[0] ** 2 + 2 * w[1] ** 2)


def bowl_gradient(w: NDArray[np.floating]) -> NDArray[np.float64]:
    """``∇f(w) = (0.2 w1, 4 w2)``."""
    return np.array([0.2 * w[0], 4.0 * w[1]])


def optimizer_path(
    optimizer: Any, start: tuple[float, float] = (-5.0, -2.0), steps: int = 20
) -> NDArray[np.float64]:
    """The points ``w`` that ``optimizer`` visits on the bowl from ``start``, (steps + 1, 2)."""
    w = np.array(start, dtype=np.float64)
    path = [w.copy()]
    for _ in range(steps):
        optimizer.update([w], [bowl_gradient(w)])
        path.append(w.copy())
    return np.array(path)


def default_optimizers() -> dict[str, Any]:
    """The four runs the picture shows, by label."""
    return {
        "SGD lr=0.4": SGD(0.4),
        "SGD lr=0.6 (diverges along w2)": SGD(0.6),
        "momentum 0.5, lr=0.6": SGD(0.6, momentum=0.5),
        "Adam lr=0.3": Adam(0.3),
    }


def plot_optimizer_paths(
    optimizers: dict[str, Any] | None = None, steps: int = 20, out: PathLike | None = None
) -> Figure:
    """Contours of the bowl and one path per optimizer, all starting at (-5, -2).

    Parameters
    ----------
    optimizers : dict of str to optimizer, optional
        Fresh tinycnn optimizers by label; by default :func:`default_optimizers`.
    steps : int
        Updates per path.
    out : path, optional
        Where to save the PNG (900 x 550 pixels).

    Returns
    -------
    Figure
        With ``figure.paths``, a dict of label to the (steps + 1, 2) path drawn.
    """
    optimizers = default_optimizers() if optimizers is None else optimizers
    paths = {label: optimizer_path(opt, steps=steps) for label, opt in optimizers.items()}
    figure = new_figure(9, 5.5)
    ax = figure.add_subplot()
    w1, w2 = np.meshgrid(np.linspace(-5.5, 1.5, 200), np.linspace(-3, 3, 200))
    ax.contour(w1, w2, 0.1 * w1**2 + 2 * w2**2, levels=12, colors="0.75", linewidths=0.8)
    for label, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "-o", markersize=3, label=label)
    ax.plot([0], [0], "k*", markersize=12)
    ax.set_xlim(-5.5, 1.5)
    ax.set_ylim(-3, 3)
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(f"f(w) = 0.1 w1² + 2 w2², {steps} steps from (-5, -2)")
    figure.paths = paths  # type: ignore[attr-defined]
    return finish(figure, out)
