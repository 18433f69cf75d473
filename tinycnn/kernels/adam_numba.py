"""Numba twin of the Adam update: one fused loop, bit-identical to ``tinycnn/optim/adam.py``.

The reference (``Adam._step``) makes about a dozen passes over each parameter tensor, each
allocating a temporary. This kernel does the same arithmetic in one pass, element by element,
with the same operations in the same order and in the parameter's dtype::

    m = m + (g - m) * c1            c1 = dtype(1 - beta_1)
    v = v + (g * g - v) * c2        c2 = dtype(1 - beta_2)
    p = p - (m * lr_t) / (sqrt(v) + eps)

so the result is bit-identical to NumPy's (IEEE arithmetic, no ``fastmath``, no fused
multiply-add contraction). The step size ``lr_t`` is computed by the caller, as in the reference.
Parallel over elements (each element is independent, so the split does not change any sum).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.kernels.threads_numba import run

__all__ = ["adam_update"]


@nb.njit(parallel=True, cache=True)
def _adam(p, g, m, v, lr_t, c1, c2, eps):
    for i in nb.prange(p.size):
        m[i] = m[i] + (g[i] - m[i]) * c1
        v[i] = v[i] + (g[i] * g[i] - v[i]) * c2
        p[i] = p[i] - (m[i] * lr_t) / (np.sqrt(v[i]) + eps)


def adam_update(p, g, m, v, lr_t, beta_1: float, beta_2: float, epsilon: float) -> None:
    """Apply one Adam step to ``p`` in place, updating the moments ``m`` and ``v`` in place.

    Parameters
    ----------
    p, m, v : ndarray, any shape, C-contiguous, one floating dtype
        Parameter and its first and second moment estimates (modified in place).
    g : ndarray, same shape as ``p``
        Gradient ∂loss/∂p (cast to ``p``'s dtype if needed).
    lr_t : float
        Step size ``lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` in ``p``'s dtype.
    beta_1, beta_2, epsilon : float
        Adam's hyperparameters, rounded to ``p``'s dtype here as NumPy does for Python floats.
    """
    dtype = p.dtype.type
    if not (p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
        raise ValueError("adam_update: expected C-contiguous p, m and v")
    g = np.ascontiguousarray(g, dtype=p.dtype)
    run(
        _adam,
        p.size,
        p.reshape(-1),
        g.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        dtype(lr_t),
        dtype(1 - beta_1),
        dtype(1 - beta_2),
        dtype(epsilon),
    )
