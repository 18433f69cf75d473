"""The architecture of a model: one box per layer with its output shape and parameter count.

After d2l's LeNet figure: the data flows left to right, each box says what the layer is, the
shape it outputs (without the batch axis N) and how many parameters it learns. The numbers are
the model's own, the same as ``model.summary()`` prints (225,034 in all for the seed CNN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from tinycnn.model import Sequential
from tinycnn.plots._cells import INPUT, OUTPUT
from tinycnn.plots._figure import PathLike, finish, new_figure, seed_model


@dataclass(frozen=True)
class LayerRow:
    """One box: ``name`` (``"input"`` first), ``label``, the output ``shape``, ``params``."""

    name: str
    label: str
    shape: tuple[int, ...]
    params: int


def layer_label(layer: Any) -> str:
    """``Conv2D 32 @ 3x3, relu``, ``MaxPool2D 2x2``, ``Dense 128, relu``, ``Dropout 0.5``, ..."""
    kind = type(layer).__name__
    config = layer.get_config()
    activation = config.get("activation")
    tail = f", {activation}" if activation and activation != "linear" else ""
    if "filters" in config:
        KH, KW = config["kernel_size"]
        return f"{kind}\n{config['filters']} @ {KH}x{KW}{tail}"
    if "pool_size" in config:
        return f"{kind}\n{config['pool_size'][0]}x{config['pool_size'][1]}"
    if "units" in config:
        return f"{kind}\n{config['units']}{tail}"
    if "rate" in config:
        return f"{kind}\n{config['rate']:g}"
    return kind


def architecture_rows(model: Sequential) -> list[LayerRow]:
    """The input and every layer of a built ``Sequential``, with output shapes and counts."""
    if not model.built:
        raise ValueError("the model is not built: give it an input_shape or call build first")
    rows = [LayerRow("input", "Input", model.built_input_shape(), 0)]
    for layer, shape in zip(model.layers, model.output_shapes, strict=True):
        rows.append(
            LayerRow(layer.describe(), layer_label(layer), tuple(shape), layer.count_params())
        )
    return rows


def plot_architecture(model: Sequential | None = None, out: PathLike | None = None) -> Figure:
    """Boxes left to right, heights growing with each output's spatial size.

    Parameters
    ----------
    model : Sequential, optional
        A built model; by default the seed CNN (``tinycnn.seed_cnn``).
    out : path, optional
        Where to save the PNG (1300 x 420 pixels).

    Returns
    -------
    Figure
        With ``figure.rows``, the :class:`LayerRow` list it draws.
    """
    model = seed_model(model)
    rows = architecture_rows(model)
    figure = new_figure(13, 4.2)
    ax = figure.add_subplot()
    largest = max(row.shape[0] for row in rows if len(row.shape) == 3)
    for k, row in enumerate(rows):
        spatial = len(row.shape) == 3
        height = 0.9 * row.shape[0] / largest if spatial else 0.12
        box = FancyBboxPatch(
            (k - 0.42, -height / 2), 0.84, height, boxstyle="round,pad=0.02",
            facecolor=INPUT if spatial else OUTPUT, edgecolor="0.3",
        )  # fmt: skip
        ax.add_patch(box)
        ax.text(k, 0.62, row.label, ha="center", va="bottom", fontsize=9)
        shape = "x".join(map(str, row.shape))
        ax.text(k, -0.62, f"{shape}\n{row.params:,} params", ha="center", va="top", fontsize=9)
        if k:
            ax.annotate("", (k - 0.44, 0), (k - 0.56, 0), arrowprops={"arrowstyle": "->"})
    total = sum(row.params for row in rows)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(-1.1, 1.05)
    ax.axis("off")
    ax.set_title(f"{len(rows) - 1} layers, {total:,} parameters (shapes per example, N left out)")
    figure.rows = rows  # type: ignore[attr-defined]
    return finish(figure, out)
