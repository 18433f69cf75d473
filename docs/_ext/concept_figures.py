"""Draw the concept pages' figures with tinycnn.plots while the docs build.

Nothing in ``docs/concepts/figures/`` is committed: on every build ``generate`` draws each
figure of ``FIGURES`` from the current code into that folder (git-ignored), before Sphinx reads
the pages, and the pages show them with MyST ``{figure}`` directives. So a figure can never
drift from the code it pictures, and the animated GIF of a sliding kernel ships with the docs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Sphinx is needed only by the hook, so tests can import this module
    from sphinx.application import Sphinx

FOLDER = "concepts/figures"


def _im2col(out: Path) -> object:
    from tinycnn.data import load_mnist, scale_images
    from tinycnn.plots import plot_im2col

    (x, _), _ = load_mnist(subset=True)  # the embedded subset: no download
    return plot_im2col(scale_images(x[:1])[0], kernel_size=3, out=out)


def _im2col_channels(out: Path) -> object:
    from tinycnn.plots import plot_im2col
    from tinycnn.plots.multichannel import cs231n_example

    x, _, _ = cs231n_example()  # 5x5x3, the multichannel figure's input
    return plot_im2col(x, 3, strides=2, padding="same", position=(1, 1), out=out)


def _figures() -> dict[str, Callable[[Path], object]]:
    """File name -> a function that draws it at the given path."""
    import tinycnn.plots as plots

    return {
        "sliding.png": lambda out: plots.plot_sliding_kernel(strides=2, padding=1, out=out),
        "sliding.gif": lambda out: plots.animate_sliding_kernel(out, strides=2, padding=1),
        "multichannel.png": lambda out: plots.plot_multichannel(out=out),
        "im2col.png": _im2col,
        "im2col_channels.png": _im2col_channels,
        "maxpool.png": lambda out: plots.plot_maxpool(out=out),
        "architecture.png": lambda out: plots.plot_architecture(out=out),
        "backward_flow.png": lambda out: plots.plot_backward_flow(out=out),
        "dropout.png": lambda out: plots.plot_dropout(out=out),
        "receptive_field.png": lambda out: plots.plot_receptive_field(out=out),
        "optimizer_paths.png": lambda out: plots.plot_optimizer_paths(out=out),
        "softmax_loss.png": lambda out: plots.plot_softmax_loss(out=out),
    }


FIGURES = (
    "sliding.png",
    "sliding.gif",
    "multichannel.png",
    "im2col.png",
    "im2col_channels.png",
    "maxpool.png",
    "architecture.png",
    "backward_flow.png",
    "dropout.png",
    "receptive_field.png",
    "optimizer_paths.png",
    "softmax_loss.png",
)


def generate(folder: Path) -> list[Path]:
    """Draw every figure of ``FIGURES`` into ``folder`` (created if needed); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    draw = _figures()
    assert tuple(draw) == FIGURES
    paths = []
    for name in FIGURES:
        draw[name](folder / name)
        paths.append(folder / name)
    return paths


def draw_figures(app: Sphinx) -> None:
    generate(Path(app.srcdir) / FOLDER)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", draw_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
