"""Making and saving figures without pyplot.

Every plot in :mod:`tinycnn.plots` draws on a fresh :class:`matplotlib.figure.Figure` attached to
an Agg canvas. Nothing touches pyplot's global state, so plots work in scripts, tests and servers
without a display, and a figure is freed as soon as it is no longer referenced.

Sizes are in inches at ``DPI`` dots per inch, and figures are saved at that DPI without
cropping, so a figure made with ``figsize=(8, 4)`` becomes an 800 x 400 pixel PNG.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from tinycnn.model import Sequential

DPI = 100
PathLike = str | os.PathLike[str]


def seed_model(model: Sequential | None) -> Sequential:
    """``model``, or when None the seed CNN with the weights of seed 0: what a figure of a
    network draws by default."""
    if model is not None:
        return model
    from tinycnn.zoo import seed_cnn

    return seed_cnn(seed=0)


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches (``DPI`` pixels per inch), Agg canvas.

    The constrained layout engine keeps titles, labels and colour bars from overlapping.
    """
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def finish(figure: Figure, out: str | os.PathLike[str] | None) -> Figure:
    """Save ``figure`` as a PNG at ``out`` when given, then return it.

    The file is written atomically: first to a temporary file in the same folder, then renamed
    over ``out`` with ``os.replace``, so a reader never sees a half-written picture.
    """
    if out is not None:
        save_png(figure, out)
    return figure


def save_png(figure: Figure, out: str | os.PathLike[str]) -> Path:
    """Write ``figure`` to ``out`` as a PNG (atomically) and return the path."""
    path = Path(out)
    if not path.parent.is_dir():
        raise ValueError(f"cannot save the figure: folder {str(path.parent)!r} does not exist")
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        figure.savefig(temp_name, format="png", dpi=figure.dpi)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def save_gif(
    figure: Figure, draw_frame: Callable[[int], None], frames: int, out: PathLike, fps: int
) -> Path:
    """Write an animated GIF, atomically: ``draw_frame(k)`` redraws ``figure`` as frame k.

    Uses matplotlib's ``PillowWriter``. Every frame is the whole figure at its fixed size (no
    ``bbox_inches="tight"``, which could crop frames differently), so all frames are equal-sized.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    path = Path(out)
    if not path.parent.is_dir():
        raise ValueError(f"cannot save the animation: folder {str(path.parent)!r} does not exist")
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".gif")
    os.close(handle)
    animation = FuncAnimation(figure, draw_frame, frames=frames, repeat=False)
    try:
        animation.save(temp_name, writer=PillowWriter(fps=fps), dpi=figure.dpi)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
