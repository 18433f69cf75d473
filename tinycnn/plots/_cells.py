"""Drawing small arrays as grids of numbered squares (the concept figures' building block).

Cell ``(r, c)`` of an array drawn at ``(top, left)`` is a unit square centred on the data point
``(left + c, top + r)``; axes made by :func:`grid_axes` point y down, so row 0 is at the top,
as in an image.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from numpy.typing import NDArray

INPUT = "#9ecae1"  # blue: input cells (conv_arithmetic's colours)
OUTPUT = "#7fe0e0"  # cyan: output cells
WINDOW = "#3182bd"  # the window's outline
VALUE = "#31a354"  # green: values flowing forward
GRADIENT = "#de2d26"  # red: gradients flowing backward


def draw_cells(
    ax: Axes,
    values: NDArray[np.floating],
    top: float = 0,
    left: float = 0,
    colour: str = INPUT,
    fmt: str = "{:g}",
    fontsize: float = 9,
) -> None:
    """Draw a (rows, cols) array as squares with their numbers (``fmt=""`` for no numbers)."""
    for (r, c), v in np.ndenumerate(np.asarray(values)):
        ax.add_patch(
            Rectangle((left + c - 0.5, top + r - 0.5), 1, 1, facecolor=colour, edgecolor="0.3")
        )
        if fmt and not np.isnan(v):  # NaN: an empty cell
            ax.text(left + c, top + r, fmt.format(v), ha="center", va="center", fontsize=fontsize)


def draw_padding(ax: Axes, rows: int, cols: int, pad: int, top: float = 0, left: float = 0) -> None:
    """Empty dashed squares: the ``pad`` rings of zeros around a (rows, cols) input."""
    for r in range(-pad, rows + pad):
        for c in range(-pad, cols + pad):
            if 0 <= r < rows and 0 <= c < cols:
                continue
            ax.add_patch(
                Rectangle(
                    (left + c - 0.5, top + r - 0.5),
                    1,
                    1,
                    facecolor="white",
                    edgecolor="0.6",
                    linestyle="--",
                )
            )


def outline(ax: Axes, top: float, left: float, rows: int, cols: int, colour: str = WINDOW) -> None:
    """A thick rectangle around cells ``top..top+rows-1`` x ``left..left+cols-1``."""
    ax.add_patch(
        Rectangle((left - 0.5, top - 0.5), cols, rows, fill=False, edgecolor=colour, lw=3, zorder=5)
    )


def grid_axes(ax: Axes, top: float, left: float, bottom: float, right: float) -> None:
    """Square cells, y pointing down, no ticks; shows cell centres ``top..bottom, left..right``."""
    ax.set_xlim(left - 0.6, right + 0.6)
    ax.set_ylim(bottom + 0.6, top - 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
