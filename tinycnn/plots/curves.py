"""Training curves: loss and accuracy per epoch, training against validation.

The best epoch (lowest validation loss, or lowest training loss when there is no validation
data) is marked on both panels: it is the epoch an early-stopping callback would keep.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tinycnn.plots._figure import finish, new_figure
from tinycnn.training.history import History


def as_history(history: Any) -> History:
    """A ``History`` from a History, its ``to_dict()``, or a plain dict of per-epoch lists."""
    if isinstance(history, Mapping):
        data = history if "history" in history else {"history": history}
        history = History.from_dict(dict(data))
    if not isinstance(history, History):
        raise ValueError(
            f"expected a History or a dict of per-epoch lists, got {type(history).__name__}"
        )
    if not history.history.get("loss"):
        raise ValueError(f"the history has no 'loss' values; keys are {sorted(history.history)}")
    return history


def best_epoch(history: History) -> int:
    """Index (0-based) of the epoch with the lowest ``val_loss``, else the lowest ``loss``."""
    monitor = "val_loss" if history.history.get("val_loss") else "loss"
    values = history.history[monitor]
    return min(range(len(values)), key=values.__getitem__)


def _panel(ax: Axes, metrics: Mapping[str, Sequence[float]], name: str, best: int) -> None:
    epochs = np.arange(1, len(metrics[name]) + 1)
    ax.plot(epochs, metrics[name], "o-", color="tab:blue", label="training")
    if metrics.get(f"val_{name}"):
        ax.plot(epochs, metrics[f"val_{name}"], "s-", color="tab:orange", label="validation")
    ax.axvline(best + 1, color="tab:green", linestyle="--", label=f"best epoch ({best + 1})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(name.capitalize())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()


def plot_training_curves(history: Any, out: str | os.PathLike[str] | None = None) -> Figure:
    """Loss and accuracy per epoch, training vs validation, with the best epoch marked.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, or its ``.history`` dict: lists per epoch under ``"loss"`` and
        optionally ``"accuracy"``, ``"val_loss"``, ``"val_accuracy"``.
    out : path, optional
        Where to save the figure as a PNG (1000 x 400 pixels).

    Returns
    -------
    Figure
        Left panel loss, right panel accuracy (only the loss panel if no accuracy was recorded).
    """
    history = as_history(history)
    metrics, best = history.history, best_epoch(history)
    names = ["loss"] + (["accuracy"] if metrics.get("accuracy") else [])
    figure = new_figure(10, 4)
    for ax, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        _panel(ax, metrics, name, best)
    figure.suptitle("Training curves")
    return finish(figure, out)
