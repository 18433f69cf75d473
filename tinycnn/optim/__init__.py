"""Optimizers: update parameters in place from their gradients.

``get_optimizer("adam")`` or ``get_optimizer(Adam(1e-4))`` gives an optimizer object, as
``Sequential.compile(optimizer=...)`` accepts Keras's names or an instance.
"""

from __future__ import annotations

from typing import Any

from tinycnn.optim.adam import Adam
from tinycnn.optim.base import Optimizer
from tinycnn.optim.schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)
from tinycnn.optim.sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "Optimizer",
    "PiecewiseConstantDecay",
    "get_optimizer",
]


def get_optimizer(optimizer: str | Optimizer | dict[str, Any]) -> Optimizer:
    """Turn a name, a saved configuration or an optimizer into an optimizer.

    Parameters
    ----------
    optimizer : str, dict or Optimizer
        ``"sgd"`` or ``"adam"`` (any case) for default settings; a dict
        ``{"class_name": "Adam", "config": {...}}`` as written by ``tinycnn.saving.io``; or an
        ``Optimizer``, returned unchanged.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, dict):
        cls = OPTIMIZERS.get(str(optimizer.get("class_name", "")).lower())
        config = optimizer.get("config", {})
    else:
        cls = OPTIMIZERS.get(str(optimizer).lower())
        config = {}
    if cls is None:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
    return cls(**config)
