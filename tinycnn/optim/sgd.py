"""Stochastic gradient descent, with optional (Nesterov) momentum, as Keras 3 does it.

Notes
-----
Plain SGD, for each parameter ``w`` with gradient ``g`` and learning rate ``lr``::

    w = w - lr * g

With momentum ``μ`` a velocity ``v`` (zero at the start) remembers past steps::

    v = μ * v - lr * g
    w = w + v                        (classical momentum)
    w = w + μ * v - lr * g           (nesterov=True: look one step ahead)

This is the form of ``keras.optimizers.SGD`` (keras/src/optimizers/sgd.py). PyTorch keeps
``v = μ v + g`` and steps ``w -= lr v`` instead; the two agree while ``lr`` is constant.
"""

from __future__ import annotations

from typing import Any

from tinycnn.layers.base import Array
from tinycnn.optim import checks
from tinycnn.optim.base import Optimizer
from tinycnn.optim.schedules import LearningRateSchedule


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras's update rule).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        Step size ``lr`` (finite, > 0), or a schedule of it (``tinycnn.optim.schedules``).
    momentum : float
        ``μ`` in [0, 1); 0 disables the velocity state.
    nesterov : bool
        Use Nesterov's look-ahead form of momentum.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        momentum = checks.number("SGD", "momentum", momentum, low=0, high=1, high_open=True)
        # Like Keras, keep a velocity only when there is momentum.
        super().__init__(learning_rate, ("velocity",) if momentum > 0 else ())
        self.momentum = momentum
        self.nesterov = checks.flag("SGD", "nesterov", nesterov)

    def _step(self, i: int, p: Array, g: Array) -> None:
        lr = self.current_lr
        if not self.slot_names:
            p -= g * lr
            return
        v = self.slots["velocity"][i]
        v[...] = v * self.momentum - g * lr
        if self.nesterov:
            p += v * self.momentum - g * lr
        else:
            p += v

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer: ``SGD(**config)``."""
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
