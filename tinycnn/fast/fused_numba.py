"""Fused Numba kernels for ``Conv2D(activation="relu")`` followed by ``MaxPool2D``, bit-identical.

In the seed CNN each convolution's output (64 x 26 x 26 x 32 floats at batch 64, 5.5 MB) is
walked many times per training step: the bias and ReLU pass, the mask, pooling, pooling's scatter
backward, ReLU's backward and the bias gradient. These two kernels do the same arithmetic in one
pass each way, starting from the convolution's matrix product ``z`` (before its bias):

Forward, for pooling windows ``(PH, PW)`` with strides ``(SH, SW)`` (valid, non-overlapping)::

    a          = relu(z + b)                       (as Conv2D.forward then ReLU.forward round it)
    out[n,i,j,f]    = max_pq a[n, SH*i+p, SW*j+q, f]
    winner[n,i,j,f] = k = p*PW + q of the FIRST maximum, plus INACTIVE (128) when it is <= 0

Backward, with ``dz`` = ∂loss/∂z and ``db`` = ∂loss/∂b::

    dz[n, SH*i+p, SW*j+q, f] = dout[n,i,j,f]       where winner[n,i,j,f] == p*PW + q
                             = dout[n,i,j,f] * 0   where winner[n,i,j,f] == p*PW + q + INACTIVE
                             = 0                   elsewhere
    db[f]                    = Σ_rows dz[row, f]        (rows added in order, as NumPy does)

A window whose maximum is <= 0 passes no gradient: its winner is an element where ReLU was
inactive (``z + b <= 0``), whose ReLU gradient is 0 (``dout * 0``, which keeps NumPy's signed
zeros). So ``dz`` and ``db`` are bit-identical to ``MaxPool2D.backward`` followed by the ReLU's
``backward`` and the bias gradient in ``Conv2D.backward`` (``dz2d.sum(axis=0)``), and ``out`` to
``MaxPool2D.forward`` of ``Conv2D(activation="relu").forward``; ``winner % INACTIVE`` is
MaxPool2D's ``argmax``. Serial loops (the
bias gradient's order of addition must be kept); no ``fastmath``; compiled code is cached on disk.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.fast.workspace import check_out
from tinycnn.kernels.geometry import pad_input, window_geometry
from tinycnn.kernels.im2col_numba import im2col_loop
from tinycnn.kernels.threads_numba import run

__all__ = [
    "INACTIVE",
    "bias_relu_maxpool_forward",
    "im2col_into",
    "maxpool_relu_backward_bias_grad",
]

INACTIVE = 128  # added to ``winner`` where the window's maximum is <= 0 (ReLU inactive)


@nb.njit(cache=True)
def _forward(z, b, PH, PW, SH, SW, out, winner):
    N, _, _, F = z.shape
    _, OH, OW, _ = out.shape
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                best = out[n, i, j]
                won = winner[n, i, j]
                for f in range(F):
                    best[f] = -np.inf
                    won[f] = 0
                for p in range(PH):
                    for q in range(PW):
                        row = z[n, SH * i + p, SW * j + q]
                        for f in range(F):
                            v = row[f] + b[f]
                            a = v if (v > 0 or v != v) else 0  # np.maximum(v, 0), as ReLU
                            if a > best[f]:  # strictly larger: the first maximum wins
                                best[f] = a
                                won[f] = p * PW + q
                for f in range(F):
                    if not best[f] > 0:
                        won[f] += INACTIVE


@nb.njit(cache=True)
def _backward(dout, winner, PH, PW, SH, SW, zero, dz, db):
    N, H, W, F = dz.shape
    _, OH, OW, _ = dout.shape
    acc = np.zeros(F, dtype=dz.dtype)
    for n in range(N):
        for h in range(H):  # the rows of dz in order, so that db adds them as NumPy does
            i, p = h // SH, h % SH
            if i >= OH or p >= PH:  # a row in no pooling window
                dz[n, h] = zero
                continue
            for j in range(OW):
                g, won = dout[n, i, j], winner[n, i, j]
                for q in range(PW):
                    k = p * PW + q
                    target = dz[n, h, SW * j + q]
                    for f in range(F):
                        v = g[f] if won[f] == k else (g[f] * 0 if won[f] == k + INACTIVE else zero)
                        target[f] = v
                        acc[f] += v
                for w in range(SW * j + PW, min(SW * j + SW, W)):  # columns between windows
                    dz[n, h, w] = zero
            dz[n, h, SW * OW :] = zero  # columns after the last window
    db[:] = acc


def _check_pool(PH: int, PW: int, SH: int, SW: int) -> None:
    if SH < PH or SW < PW or PH * PW > INACTIVE:
        raise ValueError(
            "fused ReLU + max-pooling needs non-overlapping windows (strides >= pool size) of "
            f"at most {INACTIVE} elements, got pool ({PH}, {PW}) and strides ({SH}, {SW})"
        )


def bias_relu_maxpool_forward(z, b, PH: int, PW: int, SH: int, SW: int):
    """``maxpool(relu(z + b))`` and the winners that route the gradient back, in one pass.

    Parameters
    ----------
    z : ndarray, shape (N, H, W, F)
        A convolution's output before its bias.
    b : ndarray, shape (F,)
    PH, PW : int
        Pooling window.
    SH, SW : int
        Pooling strides, ``SH >= PH`` and ``SW >= PW`` ("valid" padding).

    Returns
    -------
    out : ndarray, shape (N, (H-PH)//SH + 1, (W-PW)//SW + 1, F), dtype of ``z``
    winner : ndarray of uint8, same shape
        ``p*PW + q`` of each window's first maximum, plus ``INACTIVE`` where it is <= 0.
    """
    _check_pool(PH, PW, SH, SW)
    if z.ndim != 4 or b.shape != (z.shape[3],):
        raise ValueError(
            f"bias_relu_maxpool_forward: expected z (N, H, W, F) and b (F,), got {z.shape} "
            f"and {b.shape}"
        )
    N, H, W, F = z.shape
    shape = (N, (H - PH) // SH + 1, (W - PW) // SW + 1, F)
    out = np.empty(shape, dtype=z.dtype)
    winner = np.empty(shape, dtype=np.uint8)
    _forward(np.ascontiguousarray(z), b.astype(z.dtype), PH, PW, SH, SW, out, winner)
    return out, winner


def maxpool_relu_backward_bias_grad(
    dout, winner, z_shape, PH: int, PW: int, SH: int, SW: int, out=None
):
    """∂loss/∂z and ∂loss/∂b from the pooled output's gradient, in one pass.

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, F)
        ∂loss/∂out of :func:`bias_relu_maxpool_forward`.
    winner : ndarray of uint8, shape (N, OH, OW, F)
        From :func:`bias_relu_maxpool_forward`.
    z_shape : tuple (N, H, W, F)
    PH, PW, SH, SW : int
        As given to the forward pass.
    out : ndarray, shape (N, H, W, F), optional
        A C-contiguous array of ``dout``'s dtype to write ``dz`` into (a reused buffer).

    Returns
    -------
    dz : ndarray, shape (N, H, W, F)
    db : ndarray, shape (F,)
    """
    _check_pool(PH, PW, SH, SW)
    N, H, W, F = z_shape
    expected = (N, (H - PH) // SH + 1, (W - PW) // SW + 1, F)
    if dout.shape != expected or winner.shape != expected:
        raise ValueError(
            f"maxpool_relu_backward_bias_grad: expected dout and winner of shape {expected}, "
            f"got {dout.shape} and {winner.shape}"
        )
    z_shape = tuple(z_shape)
    if out is None:
        dz = np.empty(z_shape, dtype=dout.dtype)
    else:
        dz = check_out(out, z_shape, dout.dtype).reshape(z_shape)
    db = np.empty(F, dtype=dout.dtype)
    zero = dz.dtype.type(0)
    _backward(
        np.ascontiguousarray(dout), np.ascontiguousarray(winner), PH, PW, SH, SW, zero, dz, db
    )
    if F == 1:  # one column: NumPy sums it pairwise, and so does Conv2D.backward (dz2d.sum(axis=0))
        db = dz.reshape(-1, 1).sum(axis=0)
    return dz, db


def im2col_into(x, KH: int, KW: int, S, padding: str, out):
    """``kernels.im2col`` written into ``out`` (a workspace array), bit-identical to the twins:
    the fast path's own, so that the reference kernels need no ``out=``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    KH, KW, S, padding
        As for :func:`tinycnn.kernels.im2col.im2col`.
    out : ndarray, C-contiguous, of ``x``'s dtype and N*OH*OW*KH*KW*C elements

    Returns
    -------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
        A view of ``out``.
    """
    KH, KW, SH, SW, OH, OW, PT, PL = window_geometry(x.shape, KH, KW, S, padding)
    N, _, _, C = x.shape
    cols = check_out(out, (N * OH * OW, KH * KW * C), x.dtype).reshape(N * OH * OW, KH * KW * C)
    if C == 1:  # as the twins do: NumPy's KH*KW strided slice copies beat a loop over rows
        x_pad = pad_input(x, KH, KW, (SH, SW), padding)  # (N, H + pads, W + pads, 1)
        windows = cols.reshape(N, OH, OW, KH, KW, C)
        for p in range(KH):
            for q in range(KW):
                windows[:, :, :, p, q, :] = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]
        return cols
    x = np.ascontiguousarray(x)  # kernel rows are read as runs of KW*C floats
    run(im2col_loop, cols.size, x, KH, KW, SH, SW, OH, OW, PT, PL, cols)
    return cols
