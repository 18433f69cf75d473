"""Winograd F(2x2, 3x3) for a 3x3 ``Conv2D(relu)`` followed by ``MaxPool2D(2)``: 2.25x fewer
multiplies than im2col, to float32 tolerance.

A 3x3 convolution's outputs come in 2x2 tiles, and each tile is a function of a 4x4 input patch.
Winograd's minimal filtering algorithm computes the tile with 16 multiplies per input channel
instead of 36 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)::

    tile = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A         d: a 4x4 patch, g: a 3x3 kernel, ⊙: elementwise

with the constant matrices below (``BT``, ``G``, ``AT``). Summed over the input channels, the
elementwise products become 16 matrix multiplies, one per position ``t = (a, b)`` of the 4x4
transform::

    V[t] = (Bᵀ d B)[a, b]  for every tile and channel     (N*T, C)      "input transform"
    U[t] = (G g Gᵀ)[a, b]  for every channel pair          (C, F)        "kernel transform"
    M[t] = V[t] @ U[t]                                     (N*T, F)
    tile = Aᵀ M A                                          (2, 2) per tile and filter

When a 2x2 max-pooling follows (stride 2), each output tile is exactly one pooling window, so only
the ``T = (OH // 2) * (OW // 2)`` tiles that pooling reads are computed and the last row or
column of an odd-sized output (which pooling drops) is never made. The output transform, the
bias, ReLU and the pooling run in one pass (:func:`winograd_bias_relu_maxpool`).

Backward, each step is the transpose of a forward one: the pooled gradient goes to each window's
winner (a 2x2 tile with one nonzero, ``dtile``), ``dM = A dtile Aᵀ``, ``dU[t] = V[t]ᵀ @ dM[t]``,
``dw = Gᵀ dU G`` (:func:`winograd_kernel_grad`), ``dV[t] = dM[t] @ U[t]ᵀ`` and
``dx = B dV Bᵀ`` added back over the overlapping 4x4 patches (:func:`winograd_input_grad`).

Numerics: the transforms add and subtract before multiplying, so results differ from im2col's by
rounding (measured in tests/fast/test_winograd.py to stay within float32 tolerance of the layers).
Where two elements of a pooling window are closer than that rounding, the window's winner may
differ from the layers'. Serial loops, no ``fastmath``; compiled code is cached on disk.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.fast.fused_numba import INACTIVE
from tinycnn.fast.workspace import check_out

__all__ = [
    "AT",
    "BT",
    "G",
    "pooled_tiles",
    "winograd_bias_relu_maxpool",
    "winograd_input_grad",
    "winograd_input_transform",
    "winograd_kernel_grad",
    "winograd_kernel_transform",
    "winograd_pool_backward",
]

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def pooled_tiles(H: int, W: int) -> tuple[int, int]:
    """The 2x2 tiles (= pooling windows) of a valid 3x3 convolution of an H x W input."""
    if H < 4 or W < 4:
        raise ValueError(
            f"Winograd 3x3 + 2x2 pooling needs inputs of at least 4 x 4, got {H} x {W}"
        )
    return (H - 2) // 2, (W - 2) // 2


# GG[a*4+b, k*3+l] = G[a, k] * G[b, l]: U = G g Gᵀ for every channel pair as one product.
GG = np.kron(G, G)


def winograd_kernel_transform(w):
    """``U[a*4+b] = (G g Gᵀ)[a, b]`` for each channel pair: w (3, 3, C, F) -> U (16, C, F)."""
    if w.ndim != 4 or w.shape[:2] != (3, 3):
        raise ValueError(f"winograd_kernel_transform: expected w (3, 3, C, F), got {w.shape}")
    _, _, C, F = w.shape
    return (GG.astype(w.dtype) @ w.reshape(9, C * F)).reshape(16, C, F)


def winograd_kernel_grad(dU):
    """The kernel transform's backward: dU (16, C, F) -> ``dw = Gᵀ dU G`` (3, 3, C, F)."""
    _, C, F = dU.shape
    return (GG.T.astype(dU.dtype) @ dU.reshape(16, C * F)).reshape(3, 3, C, F)


@nb.njit(cache=True, inline="always")
def _transform_column(t, s, b, out):
    """``out = (t B)[:, b]`` for the 4 columns ``t[s : s+4]`` (B's column b, as in ``BT[b]``)."""
    if b == 0:
        p, q, sign = t[s], t[s + 2], -1
    elif b == 1:
        p, q, sign = t[s + 1], t[s + 2], 1
    elif b == 2:
        p, q, sign = t[s + 2], t[s + 1], -1
    else:
        p, q, sign = t[s + 1], t[s + 3], -1
    if sign > 0:
        for c in range(out.shape[0]):
            out[c] = p[c] + q[c]
    else:
        for c in range(out.shape[0]):
            out[c] = p[c] - q[c]


@nb.njit(cache=True)
def _input_transform(x, TH, TW, V):
    N, _, _, C = x.shape
    t = np.empty((4, 2 * TW + 2, C), dtype=x.dtype)
    for n in range(N):
        for i in range(TH):
            for s in range(2 * TW + 2):  # t = Bᵀ d for every input column of this tile row
                d0, d1 = x[n, 2 * i, s], x[n, 2 * i + 1, s]
                d2, d3 = x[n, 2 * i + 2, s], x[n, 2 * i + 3, s]
                t0, t1, t2, t3 = t[0, s], t[1, s], t[2, s], t[3, s]
                for c in range(C):
                    t0[c] = d0[c] - d2[c]
                    t1[c] = d1[c] + d2[c]
                    t2[c] = d2[c] - d1[c]
                    t3[c] = d1[c] - d3[c]
            row0 = (n * TH + i) * TW
            for a in range(4):  # V = t B for each tile (columns 2j .. 2j+3 of t), plane by plane
                ta = t[a]
                for b in range(4):
                    plane = V[4 * a + b]
                    for j in range(TW):
                        _transform_column(ta, 2 * j, b, plane[row0 + j])


def winograd_input_transform(x, out=None):
    """``V[a*4+b, tile, c] = (Bᵀ d B)[a, b]`` for the 4x4 patch ``d`` of every pooled tile.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    out : ndarray, optional
        A C-contiguous buffer of ``x``'s dtype to fill (16 * N*T * C elements).

    Returns
    -------
    V : ndarray, shape (16, N*T, C)
        Row ``(n*TH + i)*TW + j`` is the tile at output rows ``2i, 2i+1`` and columns
        ``2j, 2j+1``; ``(TH, TW) = pooled_tiles(H, W)`` and ``T = TH*TW``.
    """
    N, H, W, C = x.shape
    TH, TW = pooled_tiles(H, W)
    shape = (16, N * TH * TW, C)
    V = np.empty(shape, dtype=x.dtype) if out is None else check_out(out, shape, x.dtype)
    _input_transform(np.ascontiguousarray(x), TH, TW, V.reshape(shape))
    return V.reshape(shape)


@nb.njit(cache=True)
def _bias_relu_maxpool(M, b, out, winner):
    _, R, F = M.shape
    t = np.empty((8, F), dtype=M.dtype)
    for row in range(R):
        for s in range(4):  # t = Aᵀ m, column by column of the 4x4 m = M[:, row]
            m0, m1, m2, m3 = M[s, row], M[4 + s, row], M[8 + s, row], M[12 + s, row]
            for f in range(F):
                t[s, f] = m0[f] + m1[f] + m2[f]
                t[4 + s, f] = m1[f] - m2[f] - m3[f]
        best, won = out[row], winner[row]
        for f in range(F):
            best[f] = -np.inf
            won[f] = 0
        for p in range(2):  # tile = t A, then bias, ReLU and the window's first maximum
            t0, t1, t2, t3 = t[4 * p], t[4 * p + 1], t[4 * p + 2], t[4 * p + 3]
            for q in range(2):
                for f in range(F):
                    y = (t0[f] + t1[f] + t2[f] if q == 0 else t1[f] - t2[f] - t3[f]) + b[f]
                    a = y if (y > 0 or y != y) else 0
                    if a > best[f]:
                        best[f] = a
                        won[f] = 2 * p + q
        for f in range(F):
            if not best[f] > 0:
                won[f] += INACTIVE


def winograd_bias_relu_maxpool(M, b, pooled_shape):
    """``maxpool(relu(Aᵀ M A + b))`` and the winners, in one pass over ``M``.

    Parameters
    ----------
    M : ndarray, shape (16, N*T, F)
        ``V[t] @ U[t]`` for the 16 transform positions.
    b : ndarray, shape (F,)
    pooled_shape : tuple (N, TH, TW, F)

    Returns
    -------
    out : ndarray, shape (N, TH, TW, F)
    winner : ndarray of uint8, shape (N, TH, TW, F)
        ``2p + q`` of the first maximum in each 2x2 window, plus ``INACTIVE`` where it is <= 0
        (as ``tinycnn.fast.fused_numba``).
    """
    N, TH, TW, F = pooled_shape
    if M.shape != (16, N * TH * TW, F) or b.shape != (F,):
        raise ValueError(
            f"winograd_bias_relu_maxpool: expected M {(16, N * TH * TW, F)} and b ({F},), "
            f"got {M.shape} and {b.shape}"
        )
    out = np.empty((N * TH * TW, F), dtype=M.dtype)
    winner = np.empty((N * TH * TW, F), dtype=np.uint8)
    _bias_relu_maxpool(np.ascontiguousarray(M), b.astype(M.dtype), out, winner)
    return out.reshape(pooled_shape), winner.reshape(pooled_shape)


@nb.njit(cache=True)
def _pool_backward(dout, winner, dM, db):
    R, F = dout.shape
    ga = np.empty((4, F), dtype=dout.dtype)  # g * AT[p, a]: the gradient's row factors
    qc = np.empty((4, F), dtype=dout.dtype)  # AT[q, c]: its column factors
    db[:] = 0
    for row in range(R):
        g_row, won_row = dout[row], winner[row]
        for f in range(F):
            won = won_row[f]
            g = g_row[f] if won < INACTIVE else g_row[f] * 0
            db[f] += g
            p, q = (won % INACTIVE) // 2, won % 2
            ga[0, f], ga[1, f] = g * (1 - p), g  # AT[0] = (1, 1, 1, 0), AT[1] = (0, 1, -1, -1)
            ga[2, f], ga[3, f] = g * (1 - 2 * p), g * -p
            qc[0, f], qc[1, f], qc[2, f], qc[3, f] = 1 - q, 1, 1 - 2 * q, -q
        for a in range(4):  # dM = A dtile Aᵀ, dtile being g at (p, q) and zero elsewhere
            for c in range(4):
                plane, ra, rc = dM[4 * a + c, row], ga[a], qc[c]
                for f in range(F):
                    plane[f] = ra[f] * rc[f]


def winograd_pool_backward(dout, winner, out=None):
    """``dM`` and ``db`` from the pooled output's gradient (the backward of
    :func:`winograd_bias_relu_maxpool`).

    Parameters
    ----------
    dout : ndarray, shape (N, TH, TW, F)
    winner : ndarray of uint8, shape (N, TH, TW, F)
    out : ndarray, optional
        A C-contiguous buffer of ``dout``'s dtype for ``dM``.

    Returns
    -------
    dM : ndarray, shape (16, N*TH*TW, F)
    db : ndarray, shape (F,)
        The bias gradient, added tile by tile (not in NumPy's pairwise order).
    """
    if dout.shape != winner.shape or dout.ndim != 4:
        raise ValueError(
            f"winograd_pool_backward: expected dout and winner of one shape (N, TH, TW, F), "
            f"got {dout.shape} and {winner.shape}"
        )
    N, TH, TW, F = dout.shape
    shape = (16, N * TH * TW, F)
    dM = np.empty(shape, dtype=dout.dtype) if out is None else check_out(out, shape, dout.dtype)
    db = np.empty(F, dtype=dout.dtype)
    R = N * TH * TW
    _pool_backward(
        np.ascontiguousarray(dout).reshape(R, F), np.ascontiguousarray(winner).reshape(R, F),
        dM.reshape(shape), db,
    )  # fmt: skip
    return dM.reshape(shape), db


@nb.njit(cache=True)
def _input_grad(dV, TH, TW, dx):
    N, _, _, C = dx.shape
    t = np.empty((4, 4, C), dtype=dx.dtype)
    dx[:] = 0
    for n in range(N):
        for i in range(TH):
            for j in range(TW):
                row = (n * TH + i) * TW + j
                for a in range(4):  # t = dV Bᵀ, row by row
                    v0, v1 = dV[4 * a, row], dV[4 * a + 1, row]
                    v2, v3 = dV[4 * a + 2, row], dV[4 * a + 3, row]
                    for c in range(C):
                        t[a, 0, c] = v0[c]
                        t[a, 1, c] = v1[c] - v2[c] + v3[c]
                        t[a, 2, c] = v1[c] + v2[c] - v0[c]
                        t[a, 3, c] = -v3[c]
                for s in range(4):  # B t, column by column, added to the 4x4 patch
                    t0, t1, t2, t3 = t[0, s], t[1, s], t[2, s], t[3, s]
                    x0, x1 = dx[n, 2 * i, 2 * j + s], dx[n, 2 * i + 1, 2 * j + s]
                    x2, x3 = dx[n, 2 * i + 2, 2 * j + s], dx[n, 2 * i + 3, 2 * j + s]
                    for c in range(C):
                        x0[c] += t0[c]
                        x1[c] += t1[c] - t2[c] + t3[c]
                        x2[c] += t1[c] + t2[c] - t0[c]
                        x3[c] -= t3[c]


def winograd_input_grad(dV, x_shape):
    """``dx`` from ``dV`` (16, N*T, C): each tile's ``B dV Bᵀ`` added back to its 4x4 patch.

    Returns
    -------
    dx : ndarray, shape x_shape = (N, H, W, C)
        Zero where no pooled tile reads the input (an odd last row or column).
    """
    N, H, W, C = x_shape
    TH, TW = pooled_tiles(H, W)
    if dV.shape != (16, N * TH * TW, C):
        raise ValueError(f"winograd_input_grad: expected dV {(16, N * TH * TW, C)}, got {dV.shape}")
    dx = np.empty(x_shape, dtype=dV.dtype)
    _input_grad(np.ascontiguousarray(dV), TH, TW, dx)
    return dx
