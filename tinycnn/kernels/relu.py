"""ReLU's two kernels, the NumPy reference (the Numba twins are in ``relu_numba.py``).

Notes
-----
::

    out = max(x, 0)      mask = x > 0          (forward)
    dx  = dout * mask                          (backward)

At ``x == 0`` the mask is False: the subgradient 0, as TensorFlow uses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["relu_backward", "relu_forward"]


def relu_forward(x: NDArray) -> tuple[NDArray, NDArray[np.bool_]]:
    """``out = max(x, 0)`` and the mask ``x > 0`` that the backward pass needs.

    Parameters
    ----------
    x : ndarray, shape (N, ...)

    Returns
    -------
    out : ndarray, shape (N, ...), dtype of ``x``
    mask : ndarray of bool, shape (N, ...)
    """
    mask = x > 0
    return np.maximum(x, 0), mask


def relu_backward(dout: NDArray, mask: NDArray[np.bool_]) -> NDArray:
    """``dx = dout * mask``: the gradient passes where the input was positive.

    Parameters
    ----------
    dout : ndarray, shape (N, ...)
        ∂loss/∂out.
    mask : ndarray of bool, shape (N, ...)
        From :func:`relu_forward`.

    Returns
    -------
    dx : ndarray, shape (N, ...)
    """
    if dout.shape != mask.shape:
        raise ValueError(
            f"relu_backward: expected dout of shape {mask.shape} (the mask's), got {dout.shape}"
        )
    return dout * mask
