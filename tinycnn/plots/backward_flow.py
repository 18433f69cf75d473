"""How gradients flow backward through a model, with the shape of every gradient.

After CS231n's circuit diagrams: values (green) go down through the layers in the forward pass,
the loss turns the logits into ``dlogits = (p - y) / N``, and gradients (red) go back up, each
layer turning ``dout`` into ``dx`` (the next ``dout`` up) and filling ``grads`` for its
parameters. Every gradient has the shape of the array it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.layers import Softmax
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.plots._cells import GRADIENT, VALUE
from tinycnn.plots._figure import PathLike, finish, new_figure, seed_model


@dataclass(frozen=True)
class FlowStep:
    """One layer in one training step.

    Attributes
    ----------
    name : str
    x, out, dout, dx : ndarray
        Its input and output (forward), the gradient it received and the one it passed back.
    grads : dict of str to ndarray
        Copies of its parameter gradients, e.g. ``{"w": (3, 3, 1, 32), "b": (32,)}`` shaped.
    """

    name: str
    x: NDArray[np.floating]
    out: NDArray[np.floating]
    dout: NDArray[np.floating]
    dx: NDArray[np.floating]
    grads: dict[str, NDArray[np.floating]]


def gradient_flow(
    model: Sequential, x: NDArray[np.floating], y: NDArray[np.integer]
) -> list[FlowStep]:
    """One forward and backward pass, layer by layer, keeping every value and gradient.

    The last layer's softmax is left to the fused loss, as in training. Dropout layers draw
    their masks, so call it once per check.
    """
    layers = list(model.layers)
    if layers and isinstance(layers[-1], Softmax):
        layers = layers[:-1]  # the loss applies the softmax
    values = [np.asarray(x)]
    for k, layer in enumerate(layers):
        last = k == len(layers) - 1
        if last and isinstance(getattr(layer, "activation", None), Softmax):
            forward = layer.forward  # Dense or Conv2D: they take apply_activation
            values.append(forward(values[-1], training=True, apply_activation=False))  # type: ignore[call-arg]
        else:
            values.append(layer.forward(values[-1], training=True))
    loss = SoftmaxCrossEntropy()
    loss.forward(values[-1], y)
    dout = loss.backward()  # (N, K) = (p - y) / N
    steps = []
    for k in reversed(range(len(layers))):
        dx = layers[k].backward(dout)
        grads = {name: np.array(g) for name, g in layers[k].grads.items()}
        steps.append(FlowStep(layers[k].describe(), values[k], values[k + 1], dout, dx, grads))
        dout = dx
    return steps[::-1]


def _shape(array: NDArray[np.floating]) -> str:
    return "(" + ", ".join(["N", *map(str, array.shape[1:])]) + ")"


def plot_backward_flow(model: Sequential | None = None, out: PathLike | None = None) -> Figure:
    """Layers top to bottom; values and their shapes on the left, gradients on the right.

    Parameters
    ----------
    model : Sequential, optional
        By default the seed CNN (``tinycnn.seed_cnn``), run on 2 random 28x28 images.
    out : path, optional
        Where to save the PNG (1100 x 800 pixels).

    Returns
    -------
    Figure
        With ``figure.steps``, the :class:`FlowStep` list whose shapes it prints.
    """
    model = seed_model(model)
    rng = np.random.default_rng(0)
    x = rng.random((2, *model.built_input_shape())).astype(np.float32)
    steps = gradient_flow(model, x, rng.integers(0, model.output_shapes[-1][-1], 2))
    figure = new_figure(11, 8)
    ax = figure.add_subplot()
    rows = len(steps)
    for k, step in enumerate(steps):
        ax.text(0.5, k + 0.5, step.name, ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "round", "facecolor": "0.93"})  # fmt: skip
        ax.text(0.05, k, f"x {_shape(step.x)}", ha="left", va="center", color=VALUE)
        ax.text(0.95, k, f"dx {_shape(step.dx)}", ha="right", va="center", color=GRADIENT)
        params = ", ".join(f"d{n} {g.shape}" for n, g in step.grads.items())
        if params:
            ax.text(0.78, k + 0.5, params, ha="right", va="center", color=GRADIENT, fontsize=9)
        ax.annotate(
            "", (0.2, k + 0.75), (0.2, k + 0.2), arrowprops={"arrowstyle": "->", "color": VALUE}
        )
        ax.annotate(
            "", (0.8, k + 0.2), (0.8, k + 0.75), arrowprops={"arrowstyle": "->", "color": GRADIENT}
        )
    last = steps[-1]
    ax.text(0.05, rows, f"logits {_shape(last.out)}", ha="left", va="center", color=VALUE)
    ax.text(0.95, rows, f"dlogits {_shape(last.dout)} = (p − y)/N", ha="right", va="center",
            color=GRADIENT)  # fmt: skip
    ax.text(0.5, rows + 0.45, "loss L (a number)", ha="center", va="center", fontsize=11,
            bbox={"boxstyle": "round", "facecolor": "#fee0d2"})  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(rows + 0.8, -0.4)
    ax.axis("off")
    ax.set_title(
        "forward: values (green) down;  backward: gradients (red) up, each shaped like its array"
    )
    figure.steps = steps  # type: ignore[attr-defined]
    return finish(figure, out)
