"""An experiment grid's test accuracies: every seed, the mean and spread, per configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tinycnn.plots._figure import finish, new_figure


def plot_grid(
    table: Mapping[str, Mapping[str, Any]], out: str | os.PathLike[str] | None = None
) -> Figure:
    """One column per configuration: each seed's test accuracy (dots), mean ± std (bar), median.

    Parameters
    ----------
    table : dict of str to dict
        ``tinycnn.teach.experiment_grid.summarise``'s output (``per_seed``, ``mean``, ``std``,
        ``median`` per configuration), or the ``"table"`` of a grid's ``results.json``.
    out : path, optional
        Save the PNG there.
    """
    if not table:
        raise ValueError("plot_grid needs at least one configuration, got an empty table")
    figure = new_figure(max(4.0, 1.6 * len(table) + 1.5), 4.0)
    ax = figure.add_subplot()
    for i, row in enumerate(table.values()):
        values = 100 * np.array(list(row["per_seed"].values()), dtype=float)
        spread = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
        ax.plot(i + spread, values, "o", color="tab:blue", alpha=0.6,
                label="one seed" if i == 0 else None)  # fmt: skip
        ax.errorbar(i + 0.3, 100 * row["mean"], yerr=100 * row["std"], fmt="s", color="tab:red",
                    capsize=4, label="mean ± std" if i == 0 else None)  # fmt: skip
        ax.plot([i - 0.2, i + 0.2], [100 * row["median"]] * 2, color="black",
                label="median" if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(table)), list(table), rotation=15, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return finish(figure, out)
