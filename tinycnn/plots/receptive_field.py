"""How much of the input one unit sees, layer by layer (its receptive field).

A unit of a layer with kernel ``K`` and stride ``S`` sees ``K`` units of the layer below, which
are ``jump`` input pixels apart; so, starting from ``size = jump = 1`` at the input::

    size_out = size_in + (K - 1) * jump_in        jump_out = jump_in * S

After the seed CNN's conv 3x3, pool 2x2, conv 3x3, pool 2x2 a unit sees 3, 4, 8 and 10 pixels
square; the dense layers after Flatten see the whole image. (d2l: after two 2x2 convolutions one
output sees all 9 inputs of a 3x3 image.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from numpy.typing import NDArray

from tinycnn.kernels.geometry import same_padding
from tinycnn.layers import Conv2D, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.plots._figure import PathLike, finish, new_figure, seed_model


@dataclass(frozen=True)
class Field:
    """The receptive field of unit ``(i, i)`` of one layer's output, in input pixels.

    ``size`` pixels square, starting at row and column ``start``; neighbouring units' fields
    are ``jump`` pixels apart.
    """

    name: str
    size: int
    jump: int
    start: int
    unit: int


def receptive_fields(model: Sequential, corner: int = 8) -> list[Field]:
    """The fields of the conv and pool layers up to the first non-spatial layer.

    For each layer the unit chosen is the one whose field starts at input pixel ``corner``
    (or the nearest before it), so the fields are nested squares sharing a corner.
    """
    size, jump, first, H = 1, 1, 0, model.built_input_shape()[0]
    fields = []
    for layer, shape in zip(model.layers, model.output_shapes, strict=True):
        if len(shape) != 3:
            break
        if not isinstance(layer, (Conv2D, MaxPool2D)):  # ReLU, Dropout, ...: same field
            continue
        window = layer.kernel_size if isinstance(layer, Conv2D) else layer.pool_size
        K, S = window[0], layer.strides[0]
        top = same_padding(H, K, S)[0] if layer.padding == "same" else 0
        size, first, jump = size + (K - 1) * jump, first - top * jump, jump * S
        H = shape[0]
        unit = min(max((corner - first) // jump, 0), H - 1)
        fields.append(Field(layer.describe(), size, jump, first + unit * jump, unit))
    return fields


def plot_receptive_field(
    model: Sequential | None = None,
    image: NDArray[np.floating] | None = None,
    out: PathLike | None = None,
) -> Figure:
    """Nested squares on the input: what one unit of each conv and pool layer sees.

    Parameters
    ----------
    model : Sequential, optional
        By default the seed CNN.
    image : ndarray, shape (H, W) or (H, W, 1), optional
        Drawn underneath (e.g. a digit); by default an empty grid.
    out : path, optional
        Where to save the PNG (800 x 600 pixels).

    Returns
    -------
    Figure
        With ``figure.fields``, the :class:`Field` list it draws.
    """
    model = seed_model(model)
    H, W = model.built_input_shape()[:2]
    fields = receptive_fields(model)
    figure = new_figure(8, 6)
    ax = figure.add_subplot()
    background = np.zeros((H, W)) if image is None else np.asarray(image).reshape(H, W)
    ax.imshow(background, cmap="gray_r", vmin=0, vmax=max(float(background.max()), 1.0))
    ax.set_xticks(np.arange(-0.5, W, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, H, 1), minor=True)
    ax.grid(which="minor", color="0.85", lw=0.5)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for k, f in enumerate(fields):
        colour = colours[k % len(colours)]
        ax.add_patch(Rectangle((f.start - 0.5, f.start - 0.5), f.size, f.size, fill=False,
                               edgecolor=colour, lw=2.5, label=f"{f.name} ({f.unit},{f.unit}): "
                               f"{f.size}x{f.size} pixels"))  # fmt: skip
    figure.legend(loc="outside lower center", ncol=2, fontsize=9)
    ax.set_title("receptive field of one unit per layer (after Flatten: all pixels)")
    figure.fields = fields  # type: ignore[attr-defined]
    return finish(figure, out)
