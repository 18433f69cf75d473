"""The Adam update, the NumPy reference (the Numba twin is in ``adam_numba.py``).

Keras's form (``keras/src/optimizers/adam.py``), see :mod:`tinycnn.optim.adam` for the math::

    m += (g - m) * (1 - β1)
    v += (g² - v) * (1 - β2)
    p -= (m * lr_t) / (sqrt(v) + ε)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["adam_update"]


def adam_update(
    p: NDArray, g: NDArray, m: NDArray, v: NDArray, lr_t: float, beta_1: float, beta_2: float,
    epsilon: float,
) -> None:  # fmt: skip
    """Apply one Adam step to ``p`` in place, updating the moments ``m`` and ``v`` in place.

    Parameters
    ----------
    p, m, v : ndarray, any shape, one floating dtype
        Parameter and its first and second moment estimates (modified in place).
    g : ndarray, same shape as ``p``
        Gradient ∂loss/∂p (cast to ``p``'s dtype, as the Numba twin does).
    lr_t : float
        Step size ``lr * sqrt(1 - β2**t) / (1 - β1**t)``, in ``p``'s dtype.
    beta_1, beta_2, epsilon : float
        Python floats: NumPy rounds them to ``p``'s dtype in each operation.
    """
    g = np.asarray(g, dtype=p.dtype)
    m += (g - m) * (1 - beta_1)
    v += (np.square(g) - v) * (1 - beta_2)
    p -= (m * lr_t) / (np.sqrt(v) + epsilon)
