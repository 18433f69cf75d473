"""A one-channel 3x3 ``Conv2D(relu)`` + ``MaxPool2D(2)`` computed directly, without im2col.

A model's first convolution on grey images has one input channel: im2col turns each 3x3 window
into a row of only 9 numbers, so its matrix multiply (N*OH*OW x 9 by 9 x F) does little
arithmetic per number it moves, and the fused step still writes and reads the whole output
``z`` (N, OH, OW, F) and its gradient. These kernels go window by window instead. A 2x2 pooling
window (stride 2) of the convolution's output reads a 4x4 input patch ``a``; for each filter::

    z[u, v] = Σ_{p,q} a[u+p, v+q] w[p, q] + b        u, v in {0, 1}, p, q in {0, 1, 2}
    out     = max_{u,v} relu(z[u, v]),  winner = 2u + v of the first maximum (+ INACTIVE if <= 0)

and backward, with ``g = dout`` routed to the winner (zero where ReLU was inactive)::

    dw[p, q] = Σ_windows a[u*+p, v*+q] g        db = Σ_windows g

Only the outputs that pooling reads are computed (an odd last row or column is skipped). The
sums run in another order than the matrix multiply's, so results match the layers to float32
rounding, not bit for bit. ``dw`` and ``db`` are added image by image, then over the batch.
Serial loops (the filters, innermost, are vectorised), no ``fastmath``, cached on disk.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.fast.fused_numba import INACTIVE

__all__ = ["conv3x3_relu_maxpool_backward", "conv3x3_relu_maxpool_forward"]


# Written out by hand: with the 16 patch values and 9 weights as named scalars, the compiler
# keeps them in registers and vectorises the loop over the filters (loops over the taps made
# the same kernels 2-10x slower, measured).
# fmt: off
@nb.njit(cache=True)
def _forward(x, w, b, out, winner):
    N = x.shape[0]
    _, TH, TW, F = out.shape
    w0, w1, w2, w3, w4, w5, w6, w7, w8 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
    for n in range(N):
        for i in range(TH):
            for j in range(TW):
                a = x[n, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4, 0]  # the window's 4x4 patch
                a00, a01, a02, a03 = a[0, 0], a[0, 1], a[0, 2], a[0, 3]
                a10, a11, a12, a13 = a[1, 0], a[1, 1], a[1, 2], a[1, 3]
                a20, a21, a22, a23 = a[2, 0], a[2, 1], a[2, 2], a[2, 3]
                a30, a31, a32, a33 = a[3, 0], a[3, 1], a[3, 2], a[3, 3]
                best, won = out[n, i, j], winner[n, i, j]
                for f in range(F):  # z_uv: the convolution at (u, v) of the window, with bias
                    z00 = (a00 * w0[f] + a01 * w1[f] + a02 * w2[f] + a10 * w3[f] + a11 * w4[f]
                           + a12 * w5[f] + a20 * w6[f] + a21 * w7[f] + a22 * w8[f] + b[f])
                    z01 = (a01 * w0[f] + a02 * w1[f] + a03 * w2[f] + a11 * w3[f] + a12 * w4[f]
                           + a13 * w5[f] + a21 * w6[f] + a22 * w7[f] + a23 * w8[f] + b[f])
                    z10 = (a10 * w0[f] + a11 * w1[f] + a12 * w2[f] + a20 * w3[f] + a21 * w4[f]
                           + a22 * w5[f] + a30 * w6[f] + a31 * w7[f] + a32 * w8[f] + b[f])
                    z11 = (a11 * w0[f] + a12 * w1[f] + a13 * w2[f] + a21 * w3[f] + a22 * w4[f]
                           + a23 * w5[f] + a31 * w6[f] + a32 * w7[f] + a33 * w8[f] + b[f])
                    top = z00 if (z00 > 0 or z00 != z00) else 0  # relu, as np.maximum(z, 0)
                    k = 0
                    v = z01 if (z01 > 0 or z01 != z01) else 0
                    if v > top:  # strictly larger: the first maximum wins
                        top, k = v, 1
                    v = z10 if (z10 > 0 or z10 != z10) else 0
                    if v > top:
                        top, k = v, 2
                    v = z11 if (z11 > 0 or z11 != z11) else 0
                    if v > top:
                        top, k = v, 3
                    best[f] = top
                    won[f] = k if top > 0 else k + INACTIVE


@nb.njit(cache=True)
def _backward(x, dout, winner, dw, db):
    N = x.shape[0]
    _, TH, TW, F = dout.shape
    acc = np.empty((9, F), dtype=dw.dtype)  # one image's dw, then added to the batch's
    acc_b = np.empty(F, dtype=dw.dtype)
    dw[:] = 0
    db[:] = 0
    for n in range(N):
        acc[:] = 0
        acc_b[:] = 0
        for i in range(TH):
            for j in range(TW):
                a = x[n, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4, 0]
                a00, a01, a02, a03 = a[0, 0], a[0, 1], a[0, 2], a[0, 3]
                a10, a11, a12, a13 = a[1, 0], a[1, 1], a[1, 2], a[1, 3]
                a20, a21, a22, a23 = a[2, 0], a[2, 1], a[2, 2], a[2, 3]
                a30, a31, a32, a33 = a[3, 0], a[3, 1], a[3, 2], a[3, 3]
                g, won = dout[n, i, j], winner[n, i, j]
                for f in range(F):
                    k = won[f]
                    gf = g[f] if k < INACTIVE else g[f] * 0  # ReLU passes nothing when inactive
                    k = k % INACTIVE
                    g00 = gf if k == 0 else 0  # the gradient of z_uv: the winner's, or 0
                    g01 = gf if k == 1 else 0
                    g10 = gf if k == 2 else 0
                    g11 = gf if k == 3 else 0
                    acc_b[f] += gf
                    acc[0, f] += a00 * g00 + a01 * g01 + a10 * g10 + a11 * g11  # dw[0, 0]
                    acc[1, f] += a01 * g00 + a02 * g01 + a11 * g10 + a12 * g11  # dw[0, 1]
                    acc[2, f] += a02 * g00 + a03 * g01 + a12 * g10 + a13 * g11
                    acc[3, f] += a10 * g00 + a11 * g01 + a20 * g10 + a21 * g11  # dw[1, 0]
                    acc[4, f] += a11 * g00 + a12 * g01 + a21 * g10 + a22 * g11
                    acc[5, f] += a12 * g00 + a13 * g01 + a22 * g10 + a23 * g11
                    acc[6, f] += a20 * g00 + a21 * g01 + a30 * g10 + a31 * g11  # dw[2, 0]
                    acc[7, f] += a21 * g00 + a22 * g01 + a31 * g10 + a32 * g11
                    acc[8, f] += a22 * g00 + a23 * g01 + a32 * g10 + a33 * g11
        dw += acc
        db += acc_b
# fmt: on


def _check_input(x, what: str) -> tuple[int, int]:
    if x.ndim != 4 or x.shape[3] != 1 or x.shape[1] < 4 or x.shape[2] < 4:
        raise ValueError(f"{what}: expected x of shape (N, H, W, 1) with H, W >= 4, got {x.shape}")
    return (x.shape[1] - 2) // 2, (x.shape[2] - 2) // 2


def conv3x3_relu_maxpool_forward(x, w, b):
    """``maxpool2x2(relu(conv3x3(x, w) + b))`` and each window's winner, for one channel.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, 1)
    w : ndarray, shape (3, 3, 1, F)
    b : ndarray, shape (F,)

    Returns
    -------
    out : ndarray, shape (N, (H-2)//2, (W-2)//2, F), dtype of ``w``
    winner : ndarray of uint8, same shape
        ``2u + v`` of the first maximum in each window, plus ``INACTIVE`` where it is <= 0.
    """
    TH, TW = _check_input(x, "conv3x3_relu_maxpool_forward")
    if w.shape[:3] != (3, 3, 1) or w.ndim != 4 or b.shape != (w.shape[3],):
        raise ValueError(
            f"conv3x3_relu_maxpool_forward: expected w (3, 3, 1, F) and b (F,), got {w.shape} "
            f"and {b.shape}"
        )
    F = w.shape[3]
    out = np.empty((x.shape[0], TH, TW, F), dtype=w.dtype)
    winner = np.empty(out.shape, dtype=np.uint8)
    x = np.ascontiguousarray(x, dtype=w.dtype)
    _forward(x, np.ascontiguousarray(w.reshape(9, F)), b.astype(w.dtype), out, winner)
    return out, winner


def conv3x3_relu_maxpool_backward(x, dout, winner):
    """``dw`` (3, 3, 1, F) and ``db`` (F,) from the pooled gradient ``dout`` (N, TH, TW, F).

    ``x`` and ``winner`` are the forward's input and winners (see
    :func:`conv3x3_relu_maxpool_forward`).
    """
    TH, TW = _check_input(x, "conv3x3_relu_maxpool_backward")
    expected = (x.shape[0], TH, TW)
    if dout.shape != winner.shape or dout.shape[:3] != expected:
        raise ValueError(
            f"conv3x3_relu_maxpool_backward: expected dout and winner of shape "
            f"{(*expected, 'F')}, got {dout.shape} and {winner.shape}"
        )
    F = dout.shape[3]
    dw, db = np.empty((9, F), dtype=dout.dtype), np.empty(F, dtype=dout.dtype)
    x = np.ascontiguousarray(x, dtype=dout.dtype)
    _backward(x, np.ascontiguousarray(dout), np.ascontiguousarray(winner), dw, db)
    return dw.reshape(3, 3, 1, F), db
