"""Loop-by-definition oracles: slow, obvious implementations the fast code is compared with.

They share no code with the library (padding included), so a bug has to be made twice to pass.
"""

from __future__ import annotations

import math

import numpy as np


def keras_pads(H: int, K: int, S: int, padding: str) -> tuple[int, int, int]:
    """``(OH, before, after)`` along one axis, by Keras's rule (extra pad at the end)."""
    if padding == "valid":
        return (H - K) // S + 1, 0, 0
    OH = math.ceil(H / S)
    total = max((OH - 1) * S + K - H, 0)
    return OH, total // 2, total - total // 2


def pad_nhwc(x, KH, KW, strides, padding, value=0.0):
    """``x_pad`` (N, H + pads, W + pads, C), filled element by element, and (OH, OW, top, left)."""
    N, H, W, C = x.shape
    OH, top, bottom = keras_pads(H, KH, strides[0], padding)
    OW, left, right = keras_pads(W, KW, strides[1], padding)
    x_pad = np.full((N, H + top + bottom, W + left + right, C), value, dtype=np.float64)
    for n, i, j, c in np.ndindex(x.shape):
        x_pad[n, top + i, left + j, c] = x[n, i, j, c]
    return x_pad, (OH, OW, top, left)


def im2col_naive(x, KH, KW, strides, padding):
    """``cols[(n*OH + i)*OW + j, (p*KW + q)*C + c] = x_pad[n, SH*i + p, SW*j + q, c]``."""
    N, _, _, C = x.shape
    SH, SW = strides
    x_pad, (OH, OW, _, _) = pad_nhwc(x, KH, KW, strides, padding)
    cols = np.zeros((N * OH * OW, KH * KW * C))
    for n, i, j, p, q, c in np.ndindex(N, OH, OW, KH, KW, C):
        cols[(n * OH + i) * OW + j, (p * KW + q) * C + c] = x_pad[n, SH * i + p, SW * j + q, c]
    return cols


def conv2d_naive(x, w, b, strides, padding):
    """``out[n,i,j,f] = b[f] + Σ_pqc x_pad[n, SH*i+p, SW*j+q, c] * w[p,q,c,f]``, in float64."""
    KH, KW, C, F = w.shape
    SH, SW = strides
    x_pad, (OH, OW, _, _) = pad_nhwc(x, KH, KW, strides, padding)
    out = np.zeros((x.shape[0], OH, OW, F))
    for n, i, j, f in np.ndindex(out.shape):
        total = float(b[f])
        for p, q, c in np.ndindex(KH, KW, C):
            total += x_pad[n, SH * i + p, SW * j + q, c] * w[p, q, c, f]
        out[n, i, j, f] = total
    return out


def maxpool_naive(x, pool_size, strides, padding, dout=None):
    """Max pooling by definition; returns ``(out, dx)`` (``dx`` None without ``dout``).

    Scanning each window row by row and keeping a value only when it is strictly larger makes
    the first maximum win, which is where that window's gradient goes.
    """
    KH, KW = pool_size
    SH, SW = strides
    x_pad, (OH, OW, top, left) = pad_nhwc(x, KH, KW, strides, padding, value=-np.inf)
    N, _, _, C = x.shape
    out = np.zeros((N, OH, OW, C))
    dx_pad = np.zeros_like(x_pad)
    for n, i, j, c in np.ndindex(out.shape):
        best, winner = -np.inf, (SH * i, SW * j)
        for p, q in np.ndindex(KH, KW):
            if x_pad[n, SH * i + p, SW * j + q, c] > best:
                best, winner = x_pad[n, SH * i + p, SW * j + q, c], (SH * i + p, SW * j + q)
        out[n, i, j, c] = best
        if dout is not None:
            dx_pad[n, winner[0], winner[1], c] += dout[n, i, j, c]
    if dout is None:
        return out, None
    return out, dx_pad[:, top : top + x.shape[1], left : left + x.shape[2], :]
