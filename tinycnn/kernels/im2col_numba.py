"""Numba twins of ``im2col`` and ``col2im``: same signatures, bit-identical results.

See ``tinycnn/kernels/im2col.py`` for the maths and the reading order; this file only makes the
same data movement fast.

Notes
-----
``im2col`` copies each kernel row of a window (``KW*C`` consecutive floats of ``x``) as one
run; for ``C = 1`` it calls the NumPy reference, whose ``KH*KW`` strided slice copies are faster
than any loop over rows of ``KH*KW`` floats that we tried (0.43 against 0.70 ms for the seed
CNN's first layer at batch 64). ``col2im`` adds. Both skip the padded copy ``x_pad`` of the
reference: a position outside the image reads as zero (``im2col``) or is dropped (``col2im``, whose
reference crops those sums away). ``col2im`` adds the contributions to each ``dx`` element in the
reference's order (kernel row ``p``, then kernel column ``q``), starting from zero, so every sum
is rounded exactly as the reference rounds it. The loops run in parallel over the batch axis
only (``prange``); no ``fastmath``. Compiled code is cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tinycnn.kernels.geometry import window_geometry
from tinycnn.kernels.im2col import im2col as im2col_reference
from tinycnn.kernels.threads_numba import run

__all__ = ["col2im", "im2col", "im2col_loop"]


@nb.njit(parallel=True, cache=True)
def im2col_loop(x, KH, KW, SH, SW, OH, OW, PT, PL, cols):
    """Fill ``cols`` (N*OH*OW, KH*KW*C) from a C-contiguous ``x``: the compiled loop of
    :func:`im2col` (the fast path fills its workspace arrays with it too)."""
    N, H, W, C = x.shape
    run = KW * C  # one kernel row of a window: KW*C consecutive floats of x (NHWC)
    for n in nb.prange(N):
        x_rows = x[n].reshape(H, W * C)
        for i in range(OH):
            for j in range(OW):
                row = cols[(n * OH + i) * OW + j]
                w0 = SW * j - PL
                for p in range(KH):
                    h = SH * i + p - PT
                    if 0 <= h < H and 0 <= w0 and w0 + KW <= W:  # no padding: one plain copy
                        src = x_rows[h]
                        for k in range(run):
                            row[p * run + k] = src[w0 * C + k]
                        continue
                    for q in range(KW):
                        w = w0 + q
                        inside = 0 <= h < H and 0 <= w < W
                        for c in range(C):
                            row[p * run + q * C + c] = x_rows[h, w * C + c] if inside else 0


@nb.njit(parallel=True, cache=True)
def _col2im(cols, KH, KW, SH, SW, OH, OW, PT, PL, dx):
    N, H, W, C = dx.shape
    for n in nb.prange(N):
        dx[n] = 0
        for p in range(KH):
            for q in range(KW):
                col = (p * KW + q) * C
                for i in range(OH):
                    h = SH * i + p - PT
                    if h < 0 or h >= H:
                        continue
                    for j in range(OW):
                        w = SW * j + q - PL
                        if w < 0 or w >= W:
                            continue
                        row = (n * OH + i) * OW + j
                        for c in range(C):
                            dx[n, h, w, c] += cols[row, col + c]


def im2col(x, KH: int, KW: int, S=1, padding: str = "valid"):
    """Numba twin of :func:`tinycnn.kernels.im2col.im2col` (bit-identical).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    KH, KW : int
        Kernel height and width.
    S : int or (int, int)
        Strides.
    padding : {"valid", "same"}

    Returns
    -------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
    """
    KH, KW, SH, SW, OH, OW, PT, PL = window_geometry(x.shape, KH, KW, S, padding)
    N, _, _, C = x.shape
    if C == 1:  # NumPy's KH*KW strided slice copies beat a loop over rows of KH*KW floats
        return im2col_reference(x, KH, KW, (SH, SW), padding)
    x = np.ascontiguousarray(x)  # kernel rows are read as runs of KW*C floats
    cols = np.empty((N * OH * OW, KH * KW * C), dtype=x.dtype)
    run(im2col_loop, cols.size, x, KH, KW, SH, SW, OH, OW, PT, PL, cols)
    return cols


def col2im(cols, x_shape, KH: int, KW: int, S=1, padding: str = "valid"):
    """Numba twin of :func:`tinycnn.kernels.im2col.col2im` (bit-identical).

    Parameters
    ----------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
    x_shape : tuple (N, H, W, C)
    KH, KW, S, padding
        As for :func:`im2col`.

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
        The sum of every column entry back at the input position it was copied from.
    """
    KH, KW, SH, SW, OH, OW, PT, PL = window_geometry(tuple(x_shape), KH, KW, S, padding)
    N, H, W, C = x_shape
    if cols.shape != (N * OH * OW, KH * KW * C):
        raise ValueError(
            f"col2im cols: expected shape {(N * OH * OW, KH * KW * C)} for x_shape "
            f"{tuple(x_shape)}, got {cols.shape}"
        )
    dx = np.empty((N, H, W, C), dtype=cols.dtype)
    run(_col2im, cols.size, cols, KH, KW, SH, SW, OH, OW, PT, PL, dx)
    return dx
