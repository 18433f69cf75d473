"""Pictures of what a network looks at: saliency, occlusion, fooling images, class pictures.

Each draws what :mod:`tinycnn.teach.looks` computes and keeps those numbers on the figure
(``figure.saliency``, ``figure.occlusion``, ``figure.attack``, ``figure.pictures``), so a test or
a reader can check every coloured cell. Maps whose values matter carry a colour bar.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tinycnn.model import Sequential
from tinycnn.plots._figure import finish, new_figure
from tinycnn.teach import looks
from tinycnn.teach.probes import class_probabilities

Array = NDArray[np.floating]
PathLike = str | os.PathLike[str]


def _show_image(ax: Axes, image: Array, title: str) -> None:
    ax.imshow(np.asarray(image)[:, :, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()


def _predicted(model: Sequential, image: Array) -> tuple[int, float]:
    p = class_probabilities(model, np.asarray(image)[None])[0]
    return int(np.argmax(p)), float(p.max())


def plot_saliency(
    model: Sequential, image: Array, k: int | None = None, out: PathLike | None = None
) -> Figure:
    """The image, its saliency map for class ``k`` (default: the predicted class), and the map
    laid over the image.

    Parameters
    ----------
    model : Sequential
        Built, eager.
    image : ndarray, shape (H, W, C)
    k : int, optional
    out : path, optional
        Where to save the figure as a PNG (1000 x 380 pixels).

    Returns
    -------
    Figure
        Axes: the image, the map ``max_c |∂z_k/∂x|`` (``figure.saliency``, shape (H, W)) with a
        colour bar, and the overlay.
    """
    predicted, p = _predicted(model, image)
    k = predicted if k is None else k
    s = looks.saliency(model, image, k)
    figure = new_figure(10, 3.8)
    ax_image, ax_map, ax_over = figure.subplots(1, 3)
    _show_image(ax_image, image, f"input: predicted {predicted} (p = {p:.2f})")
    shown = ax_map.imshow(s, cmap="magma", vmin=0)
    ax_map.set_title(f"saliency of class {k}: max over c of |dz/dx|", fontsize=10)
    ax_map.set_axis_off()
    figure.colorbar(shown, ax=ax_map, shrink=0.8, label="|d score / d pixel|")
    _show_image(ax_over, image, "over the input")
    ax_over.imshow(s, cmap="magma", alpha=0.6)
    figure.saliency = s  # type: ignore[attr-defined]
    figure.suptitle("Which pixels can move the score most?")
    return finish(figure, out)


def plot_occlusion(
    model: Sequential,
    image: Array,
    k: int | None = None,
    patch: int = 6,
    stride: int = 2,
    out: PathLike | None = None,
) -> Figure:
    """The probability of class ``k`` lost when a ``patch`` x ``patch`` square is blacked out,
    at every position (Zeiler & Fergus 2014).

    Parameters
    ----------
    model : Sequential
    image : ndarray, shape (H, W, C)
    k : int, optional
        Default: the predicted class.
    patch, stride : int
    out : path, optional
        Where to save the figure as a PNG (1000 x 380 pixels).

    Returns
    -------
    Figure
        Axes: the image with one patch outlined, the drops per patch position
        (``figure.occlusion.drops``, red = the probability drops) with a colour bar, and the
        per-pixel mean (``figure.occlusion.heat``) over the image.
    """
    from matplotlib.patches import Rectangle

    predicted, p = _predicted(model, image)
    k = predicted if k is None else k
    result = looks.occlusion(model, image, k, patch=patch, stride=stride)
    big = max(float(np.abs(result.drops).max()), 1e-12)
    figure = new_figure(10, 3.8)
    ax_image, ax_map, ax_over = figure.subplots(1, 3)
    _show_image(ax_image, image, f"input: p(class {k}) = {result.probability:.3f}")
    ax_image.add_patch(Rectangle((-0.5, -0.5), patch, patch, fill=False, color="tab:red", lw=2))
    shown = ax_map.imshow(result.drops, cmap="RdBu_r", vmin=-big, vmax=big)
    ax_map.set_title(f"drop of p({k}) per {patch}x{patch} patch, stride {stride}", fontsize=10)
    ax_map.set_axis_off()
    figure.colorbar(shown, ax=ax_map, shrink=0.8, label="probability drop")
    _show_image(ax_over, image, "mean drop per pixel, over the input")
    ax_over.imshow(result.heat, cmap="RdBu_r", vmin=-big, vmax=big, alpha=0.6)
    figure.occlusion = result  # type: ignore[attr-defined]
    figure.suptitle("Which part, covered, costs the answer most?")
    return finish(figure, out)


def plot_fooling(
    model: Sequential,
    image: Array,
    target: int,
    epsilon: float = 0.25,
    steps: int = 10,
    out: PathLike | None = None,
) -> Figure:
    """A fooling image: a fast gradient sign step and smaller ones toward class ``target``.

    Parameters
    ----------
    model : Sequential
        Built, eager.
    image : ndarray, shape (H, W, C)
    target : int
    epsilon : float
        No pixel moves more than this.
    steps : int
    out : path, optional
        Where to save the figure as a PNG (1200 x 380 pixels).

    Returns
    -------
    Figure
        Axes: the original, the change (colour bar from -epsilon to +epsilon), the new image,
        and the probabilities before and after as bars. ``figure.attack`` is the
        :class:`tinycnn.teach.looks.Attack`.
    """
    attack = looks.fool(model, image, target, epsilon=epsilon, steps=steps)
    before, after = attack.probabilities[0], attack.probabilities[-1]
    figure = new_figure(12, 3.8)
    ax_in, ax_change, ax_out, ax_bars = figure.subplots(1, 4, width_ratios=[1, 1, 1, 1.4])
    was = int(np.argmax(before))
    _show_image(ax_in, attack.images[0], f"original: {was} (p = {before[was]:.2f})")
    shown = ax_change.imshow(attack.change[:, :, 0], cmap="RdBu_r", vmin=-epsilon, vmax=epsilon)
    ax_change.set_title(f"change, {len(attack.images) - 1} step(s), eps = {epsilon:g}", fontsize=10)
    ax_change.set_axis_off()
    figure.colorbar(shown, ax=ax_change, shrink=0.8, label="new - old")
    now = attack.prediction
    _show_image(ax_out, attack.image, f"new: {now} (p = {after[now]:.2f})")
    K = len(before)
    ax_bars.bar(np.arange(K) - 0.2, before, 0.4, label="before", color="tab:blue")
    ax_bars.bar(np.arange(K) + 0.2, after, 0.4, label="after", color="tab:orange")
    ax_bars.set_xticks(range(K))
    ax_bars.set_ylim(0, 1.05)
    ax_bars.set_xlabel("class")
    ax_bars.set_ylabel("probability")
    ax_bars.legend(fontsize=8)
    figure.attack = attack  # type: ignore[attr-defined]
    figure.suptitle(f"Fooling the network into saying {target}")
    return finish(figure, out)


def plot_class_visualisation(
    model: Sequential,
    rng: np.random.Generator,
    steps: int = 100,
    out: PathLike | None = None,
) -> Figure:
    """For every class, the input gradient ascent makes to raise that class's score.

    Parameters
    ----------
    model : Sequential
        Built, eager.
    rng : numpy.random.Generator
        Draws each faint random start.
    steps : int
        Ascent steps per class (see :func:`tinycnn.teach.looks.class_visualisation`).
    out : path, optional
        Where to save the figure as a PNG (1100 x 300 pixels for 10 classes).

    Returns
    -------
    Figure
        One Axes per class, titled with the class and its final probability;
        ``figure.pictures`` lists the :class:`tinycnn.teach.looks.ClassVisualisation` results.
    """
    K = int(model.output_shapes[-1][-1])
    pictures = [looks.class_visualisation(model, k, rng, steps=steps) for k in range(K)]
    figure = new_figure(1.1 * K, 3.0)
    axes = figure.subplots(1, K, squeeze=False)[0]
    for k, (ax, picture) in enumerate(zip(axes, pictures, strict=True)):
        _show_image(ax, picture.image, f"{k}: p = {picture.probability:.2f}")
    figure.pictures = pictures  # type: ignore[attr-defined]
    figure.suptitle("What raises each class's score: gradient ascent on the input")
    return finish(figure, out)
