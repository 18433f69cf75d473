"""Numba twins of the max-pooling kernels: same signatures, bit-identical results.

See ``tinycnn/kernels/pool.py`` for the maths, the tie rule and the argmax "switches".

Notes
-----
The forward pass visits a window's offsets in row-major order and keeps the running maximum
unless a value is *strictly* larger, exactly as the reference does, so maxima and argmax agree
bit for bit (first maximum wins; ``-inf`` padding is never read, it can only lose or tie).

The backward pass adds gradients in the reference's order: one offset ``k = p*KW + q`` at a
time, starting from zero. When windows do not overlap (``SH >= KH`` and ``SW >= KW``, the usual
``pool_size=2, strides=2``) each input receives at most one gradient, so a single scatter pass
over the outputs gives the same result. Loops run in parallel over the batch axis only; no
``fastmath``; compiled code is cached on disk.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.kernels.geometry import window_geometry
from tinycnn.kernels.threads_numba import run

__all__ = ["maxpool_backward", "maxpool_forward"]


@nb.njit(parallel=True, cache=True)
def _forward(x, KH, KW, SH, SW, PT, PL, out, argmax):
    N, H, W, C = x.shape
    _, OH, OW, _ = out.shape
    for n in nb.prange(N):
        for i in range(OH):
            for j in range(OW):
                for c in range(C):
                    out[n, i, j, c] = -np.inf
                    argmax[n, i, j, c] = 0
                for p in range(KH):
                    h = SH * i + p - PT
                    if h < 0 or h >= H:
                        continue
                    for q in range(KW):
                        w = SW * j + q - PL
                        if w < 0 or w >= W:
                            continue
                        k = p * KW + q
                        for c in range(C):
                            if x[n, h, w, c] > out[n, i, j, c]:
                                out[n, i, j, c] = x[n, h, w, c]
                                argmax[n, i, j, c] = k


@nb.njit(parallel=True, cache=True)
def _backward_overlapping(dout, argmax, KH, KW, SH, SW, PT, PL, dx):
    N, H, W, C = dx.shape
    _, OH, OW, _ = dout.shape
    for n in nb.prange(N):
        dx[n] = 0
        for k in range(KH * KW):  # one pass per offset: the reference's order of addition
            p, q = k // KW, k % KW
            for i in range(OH):
                h = SH * i + p - PT
                if h < 0 or h >= H:
                    continue
                for j in range(OW):
                    w = SW * j + q - PL
                    if w < 0 or w >= W:
                        continue
                    for c in range(C):
                        if argmax[n, i, j, c] == k:
                            dx[n, h, w, c] += dout[n, i, j, c]


@nb.njit(parallel=True, cache=True)
def _backward_disjoint(dout, argmax, KH, KW, SH, SW, PT, PL, dx):
    # Each input lies in at most one window: write every element once (dout or 0), no zeroing
    # pass. Writing dout + 0 (not dout) turns -0.0 into 0.0 as the reference's 0 + dout does.
    N, H, W, C = dx.shape
    _, OH, OW, _ = dout.shape
    for n in nb.prange(N):
        covered_h = np.zeros(H, dtype=np.bool_)
        covered_w = np.zeros(W, dtype=np.bool_)
        for i in range(OH):
            for p in range(KH):
                h = SH * i + p - PT
                if 0 <= h < H:
                    covered_h[h] = True
        for j in range(OW):
            for q in range(KW):
                w = SW * j + q - PL
                if 0 <= w < W:
                    covered_w[w] = True
        for h in range(H):
            for w in range(W):
                if not (covered_h[h] and covered_w[w]):
                    for c in range(C):
                        dx[n, h, w, c] = 0
        for i in range(OH):
            for j in range(OW):
                for p in range(KH):
                    h = SH * i + p - PT
                    if h < 0 or h >= H:
                        continue
                    for q in range(KW):
                        w = SW * j + q - PL
                        if w < 0 or w >= W:
                            continue
                        k = p * KW + q
                        for c in range(C):
                            dx[n, h, w, c] = (
                                (dout[n, i, j, c] + 0) if argmax[n, i, j, c] == k else 0
                            )


def maxpool_forward(x, KH: int, KW: int, S, padding: str = "valid"):
    """Numba twin of :func:`tinycnn.kernels.pool.maxpool_forward` (bit-identical).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    KH, KW : int
        Window height and width.
    S : int or pair of int
        Stride ``(SH, SW)``.
    padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, OH, OW, C)
    argmax : ndarray of intp, shape (N, OH, OW, C)
        ``p*KW + q`` of the first maximum of each window.
    """
    if x.ndim != 4:
        raise ValueError(f"maxpool input x must be 4-D (N, H, W, C), got shape {x.shape}")
    KH, KW, SH, SW, OH, OW, PT, PL = window_geometry(x.shape, KH, KW, S, padding)
    N, _, _, C = x.shape
    out = np.empty((N, OH, OW, C), dtype=x.dtype)
    argmax = np.empty((N, OH, OW, C), dtype=np.intp)
    run(_forward, x.size, x, KH, KW, SH, SW, PT, PL, out, argmax)
    return out, argmax


def maxpool_backward(dout, argmax, x_shape, KH: int, KW: int, S, padding: str = "valid"):
    """Numba twin of :func:`tinycnn.kernels.pool.maxpool_backward` (bit-identical).

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, C)
    argmax : ndarray of int, shape (N, OH, OW, C)
    x_shape : tuple of int, (N, H, W, C)
    KH, KW, S, padding
        As given to ``maxpool_forward``.

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
    """
    KH, KW, SH, SW, OH, OW, PT, PL = window_geometry(tuple(x_shape), KH, KW, S, padding)
    N, H, W, C = x_shape
    if dout.shape != (N, OH, OW, C) or argmax.shape != dout.shape:
        raise ValueError(
            f"maxpool_backward: expected dout and argmax of shape {(N, OH, OW, C)}, "
            f"got {dout.shape} and {argmax.shape}"
        )
    dx = np.empty((N, H, W, C), dtype=dout.dtype)
    loop = _backward_overlapping if SH < KH or SW < KW else _backward_disjoint
    run(loop, dx.size, dout, argmax, KH, KW, SH, SW, PT, PL, dx)
    return dx
