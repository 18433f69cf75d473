"""Numba twins of ReLU's two NumPy lines, bit-identical to ``tinycnn/kernels/relu.py``.

The reference forward makes two passes and two arrays (``mask = x > 0`` and
``np.maximum(x, 0)``); the backward one more (``dout * mask``). Here each direction is one pass,
in parallel over elements for large arrays. ``np.maximum``'s rules are kept exactly: NaN
propagates and ``max(-0.0, 0) = 0.0``; ``dout * mask`` multiplies by 1.0 or 0.0 (so a negative
``dout`` times 0 gives ``-0.0``, as in NumPy).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.kernels.threads_numba import run

__all__ = ["relu_backward", "relu_forward"]


@nb.njit(parallel=True, cache=True)
def _forward_loop(x, out, mask):
    for i in nb.prange(x.size):
        v = x[i]
        mask[i] = v > 0
        out[i] = v if (v > 0 or v != v) else 0  # np.maximum(v, 0): NaN wins, -0.0 -> 0.0


@nb.njit(parallel=True, cache=True)
def _backward_loop(dout, mask, dx):
    for i in nb.prange(dout.size):
        dx[i] = dout[i] if mask[i] else dout[i] * 0  # dout * 1.0 or dout * 0.0 (keeps -0.0, NaN)


def relu_forward(x):
    """``out = max(x, 0)`` and ``mask = x > 0`` in one pass.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
        Floating point.

    Returns
    -------
    out : ndarray, shape (N, ...), dtype of ``x``
    mask : ndarray of bool, shape (N, ...)
    """
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.bool_)
    run(_forward_loop, x.size, x.reshape(-1), out.reshape(-1), mask.reshape(-1))
    return out, mask


def relu_backward(dout, mask):
    """``dx = dout * mask`` in one pass.

    Parameters
    ----------
    dout : ndarray, shape (N, ...)
        ∂loss/∂out.
    mask : ndarray of bool, shape (N, ...)
        The mask returned by :func:`relu_forward`.

    Returns
    -------
    dx : ndarray, shape (N, ...), dtype of ``dout``
    """
    if dout.shape != mask.shape:
        raise ValueError(
            f"relu_backward: expected dout of shape {mask.shape} (the mask's), got {dout.shape}"
        )
    dout = np.ascontiguousarray(dout)
    dx = np.empty_like(dout)
    mask = np.ascontiguousarray(mask)
    run(_backward_loop, dout.size, dout.reshape(-1), mask.reshape(-1), dx.reshape(-1))
    return dx
