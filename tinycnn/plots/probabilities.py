"""The probability bar chart for one image: how sure is the model, and of what?"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.model import Sequential
from tinycnn.plots._figure import finish, new_figure
from tinycnn.teach.probes import class_probabilities


def plot_probabilities(
    model: Sequential,
    image: NDArray[np.floating],
    label: int | None = None,
    class_names: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> Figure:
    """The image beside a bar chart of the model's K class probabilities.

    Parameters
    ----------
    model : Sequential
        A built model.
    image : ndarray, shape (H, W, C)
        One image as the model expects it.
    label : int, optional
        The true class; its bar gets a black outline.
    class_names : sequence of str, optional
        K names for the bars; the class numbers by default.
    out : path, optional
        Where to save the figure as a PNG (900 x 350 pixels).

    Returns
    -------
    Figure
        Left Axes the image, right Axes K bars whose heights are the probabilities; the
        predicted class is drawn in orange, the others in blue.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"expected one image of shape (H, W, C), got shape {image.shape}")
    probs = class_probabilities(model, image[None])[0]  # (K,)
    K = len(probs)
    names = list(class_names) if class_names is not None else [str(k) for k in range(K)]
    predicted = int(np.argmax(probs))
    figure = new_figure(9, 3.5)
    ax_image, ax_bars = figure.subplots(1, 2, width_ratios=[1, 2.6])
    ax_image.imshow(image.squeeze(), cmap="gray_r")
    ax_image.set_axis_off()
    title = f"predicted {names[predicted]}" + ("" if label is None else f", true {names[label]}")
    ax_image.set_title(title)
    colours = ["tab:orange" if k == predicted else "tab:blue" for k in range(K)]
    bars = ax_bars.bar(names, probs, color=colours)
    if label is not None:
        bars[label].set_edgecolor("black")
        bars[label].set_linewidth(2)
    for k, p in enumerate(probs):
        ax_bars.text(k, p + 0.02, f"{p:.2f}", ha="center", va="bottom", fontsize=8)
    ax_bars.set_ylim(0, 1.15)
    ax_bars.set_xlabel("class")
    ax_bars.set_ylabel("probability")
    ax_bars.set_title("Softmax output")
    return finish(figure, out)
