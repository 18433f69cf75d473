"""Numba twins of ReLU's two NumPy lines, bit-identical to ``tinycnn/layers/relu.py``.

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

__all__ = ["bias_relu_forward", "relu_backward", "relu_backward_bias_grad", "relu_forward"]


@nb.njit(parallel=True, cache=True)
def _forward_loop(x, out, mask):
    for i in nb.prange(x.size):
        v = x[i]
        mask[i] = v > 0
        out[i] = v if (v > 0 or v != v) else 0  # np.maximum(v, 0): NaN wins, -0.0 -> 0.0


@nb.njit(parallel=True, cache=True)
def _bias_forward_loop(z, b, mask):
    R, F = z.shape
    for r in nb.prange(R):
        for f in range(F):
            v = z[r, f] + b[f]
            mask[r, f] = v > 0
            z[r, f] = v if (v > 0 or v != v) else 0


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


def bias_relu_forward(z, b):
    """``out = max(z + b, 0)`` and ``mask = z + b > 0`` in one pass, in place on ``z``.

    The same float32 additions as a layer's ``z += b`` followed by :func:`relu_forward`, so the
    results are bit-identical; one pass over ``z`` instead of two, and no new output array.

    Parameters
    ----------
    z : ndarray, shape (N, ..., F), C-contiguous
        A layer's pre-activation without its bias (e.g. ``cols @ w2d``); overwritten by ``out``.
    b : ndarray, shape (F,)

    Returns
    -------
    out : ndarray, shape (N, ..., F)
        ``z`` itself.
    mask : ndarray of bool, shape (N, ..., F)
    """
    if not z.flags.c_contiguous or z.shape[-1:] != b.shape:
        raise ValueError(
            f"bias_relu_forward: expected a C-contiguous z of shape (..., {b.shape[0]}), "
            f"got shape {z.shape}"
        )
    mask = np.empty(z.shape, dtype=np.bool_)
    z2d, mask2d = z.reshape(-1, b.shape[0]), mask.reshape(-1, b.shape[0])
    run(_bias_forward_loop, z.size, z2d, b.astype(z.dtype, copy=False), mask2d)
    return z, mask


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


@nb.njit(cache=True)
def _backward_bias_grad_loop(dout, mask, dz, db):
    R, F = dout.shape
    acc = np.zeros(F, dtype=dout.dtype)
    for r in range(R):  # rows in order: the bias gradient's sums as NumPy adds them
        for f in range(F):
            v = dout[r, f] * mask[r, f]  # times 1.0 or 0.0, as NumPy's dout * mask
            dz[r, f] = v
            acc[f] += v
    db[:] = acc


def relu_backward_bias_grad(dout, mask):
    """``dz = dout * mask`` and the owner's bias gradient ``db = Σ_rows dz`` in one pass.

    Bit-identical to :func:`relu_backward` followed by ``bias_grad_numba.bias_grad(dz2d)``
    (which adds rows in NumPy's order); serial, since a split over rows would change that order.

    Parameters
    ----------
    dout : ndarray, shape (N, ..., F)
        ∂loss/∂out of the ReLU.
    mask : ndarray of bool, shape (N, ..., F)
        From :func:`bias_relu_forward` or :func:`relu_forward`.

    Returns
    -------
    dz : ndarray, shape (N, ..., F)
    db : ndarray, shape (F,)
    """
    if dout.shape != mask.shape:
        raise ValueError(
            f"relu_backward_bias_grad: expected dout of shape {mask.shape}, got {dout.shape}"
        )
    F = dout.shape[-1]
    if F == 1:  # one column: NumPy sums it pairwise (see bias_grad_numba)
        dz = relu_backward(dout, mask)
        return dz, dz.reshape(-1, 1).sum(axis=0)
    dout, mask = np.ascontiguousarray(dout), np.ascontiguousarray(mask)
    dz = np.empty_like(dout)
    db = np.empty(F, dtype=dout.dtype)
    _backward_bias_grad_loop(dout.reshape(-1, F), mask.reshape(-1, F), dz.reshape(-1, F), db)
    return dz, db
