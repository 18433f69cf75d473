"""Adam (Kingma & Ba, 2015) in the exact form Keras 3 uses.

Notes
-----
For each parameter ``w`` with gradient ``g``, at step ``t = 1, 2, ...``, with moving averages
``m`` and ``v`` starting at zero::

    m = β1 * m + (1 - β1) * g             first moment (mean of g)
    v = β2 * v + (1 - β2) * g**2          second moment (mean of g²)
    lr_t = lr * sqrt(1 - β2**t) / (1 - β1**t)
    w = w - lr_t * m / (sqrt(v) + ε)

This is ``keras.optimizers.Adam`` (keras/src/optimizers/adam.py), which also writes the moment
updates as ``m += (g - m) * (1 - β1)``; we copy that form so float32 results agree with Keras.
The three update lines are the kernel ``adam_update`` (``tinycnn/kernels/adam.py``, with a
bit-identical Numba twin).

The paper's Algorithm 1 bias-corrects the moments and puts ε outside the corrected root::

    m_hat = m / (1 - β1**t)    v_hat = v / (1 - β2**t)    w = w - lr * m_hat / (sqrt(v_hat) + ε)

The last paragraph of the paper's Section 2 gives Keras's form as a faster ordering of
Algorithm 1, ``lr_t`` as above and ``w = w - lr_t * m / (sqrt(v) + ε̂)``, with ε̂ ("epsilon
hat") in place of Algorithm 1's ε. Keras's ``epsilon`` is that ε̂, as its docstring says ("the
'epsilon hat' in the Kingma and Ba paper (in the formula just before Section 2.1), not the
epsilon in Algorithm 1"), and so is ours. The two forms differ only in where ε sits: ε̂ equals
Algorithm 1's ε when ``ε = ε̂ / sqrt(1 - β2**t)``, so a fixed ε̂ is a larger Algorithm-1 ε in
the first steps. The difference matters only when ``sqrt(v)`` is near ε̂, i.e. for tiny
gradients. PyTorch uses Algorithm 1's form with ε = 1e-8; Keras's default ε̂ is 1e-7.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn import kernels
from tinycnn.layers.base import Array
from tinycnn.optim import checks
from tinycnn.optim.base import Optimizer
from tinycnn.optim.schedules import LearningRateSchedule


class Adam(Optimizer):
    """Adaptive moment estimation, Keras's update rule and defaults.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        ``lr`` (finite, > 0), or a schedule of it (``tinycnn.optim.schedules``).
    beta_1, beta_2 : float
        Decay rates of the first and second moment averages, in [0, 1).
    epsilon : float
        ``ε`` (finite, > 0), added to ``sqrt(v)`` (see Notes of the module for the paper's
        placement).
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, ("m", "v"))
        self.beta_1 = checks.number("Adam", "beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = checks.number("Adam", "beta_2", beta_2, low=0, high=1, high_open=True)
        # An infinite epsilon would divide every step to 0: no weight would ever move.
        self.epsilon = checks.number("Adam", "epsilon", epsilon, low=0, low_open=True)

    def _step(self, i: int, p: Array, g: Array) -> None:
        m, v = self.slots["m"][i], self.slots["v"][i]
        t = self.iterations
        # Keras computes the step size in the parameter's dtype; so do we.
        dtype = p.dtype.type
        lr_t = dtype(self.current_lr) * np.sqrt(1 - dtype(self.beta_2) ** t)
        lr_t = lr_t / (1 - dtype(self.beta_1) ** t)
        kernels.adam_update(p, g, m, v, lr_t, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer: ``Adam(**config)``."""
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
