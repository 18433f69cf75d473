"""im2col and col2im: a convolution as one matrix multiply.

A convolution slides a KH x KW window over the (padded) image. ``im2col`` copies every window
into one row of a matrix ``cols``, so that the whole convolution is a single multiply,
``cols @ w.reshape(KH*KW*C, F)``. ``col2im`` is its adjoint: it adds each row back onto the
pixels the window came from, which is exactly what the input gradient needs.

How a patch becomes a row (N = 1, C = 1, a 3 x 4 image, a 2 x 2 kernel, stride 1, "valid", so
OH = 2 and OW = 3)::

    x = a b c d          cols, one row per window, named by the window's output pixel (i, j):
        e f g h            (0, 0): a b e f      (1, 0): e f i j
        i j k l            (0, 1): b c f g      (1, 1): f g j k
                           (0, 2): c d g h      (1, 2): g h k l

Window (i, j) starts at row ``S*i`` and column ``S*j`` of the padded image. Within a row the
window is read top to bottom, left to right, channels innermost: column index ``(p*KW + q)*C + c``
holds ``x_pad[n, S*i + p, S*j + q, c]``. This is the order in which ``w.reshape(KH*KW*C, F)``
flattens an HWIO kernel, and rows run over ``(n, i, j)``, so ``cols @ w2d`` reshapes straight to
``(N, OH, OW, F)`` with no transpose.

Rather than loop over the N*OH*OW windows, both functions loop over the KH*KW kernel offsets
``(p, q)``: for a fixed offset, the entries of all windows form one strided slice of the padded
image, ``x_pad[:, p : p + S*OH : S, q : q + S*OW : S, :]``, which NumPy copies in one go.

Padding follows Keras (``"valid"``: none; ``"same"``: ``OH = ceil(H / S)``, an odd extra row or
column at the bottom or right); the output sizes and padding are :mod:`tinycnn.kernels.geometry`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinycnn.kernels.geometry import (
    Array,
    check_nhwc,
    output_hw,
    pad_amounts,
    pad_input,
    to_pair,
)


def im2col(
    x: Array,
    KH: int,
    KW: int,
    S: int | Sequence[int] = 1,
    padding: str = "valid",
) -> Array:
    """Copy every KH x KW window of ``x`` into one row of a matrix.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
        Input images (any memory layout; the result is always C-contiguous).
    KH, KW : int
        Window height and width.
    S : int or pair of int
        Stride ``(SH, SW)``; an int means the same stride on both axes.
    padding : {"valid", "same"}
        Keras's padding rule (see the module docstring); pads with zeros.

    Returns
    -------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
        Row ``(n*OH + i)*OW + j`` is the window of output pixel ``(n, i, j)``, read in
        ``(p, q, c)`` order: ``cols[row, (p*KW + q)*C + c] = x_pad[n, SH*i + p, SW*j + q, c]``.
    """
    check_nhwc(x.shape, "im2col input x")
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    N, _, _, C = x.shape
    OH, OW = output_hw(x.shape, KH, KW, (SH, SW), padding)
    x_pad = pad_input(x, KH, KW, (SH, SW), padding)  # (N, H + pads, W + pads, C)
    cols = np.empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    for p in range(KH):
        for q in range(KW):
            cols[:, :, :, p, q, :] = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]
    return cols.reshape(N * OH * OW, KH * KW * C)


def col2im(
    cols: Array,
    x_shape: Sequence[int],
    KH: int,
    KW: int,
    S: int | Sequence[int] = 1,
    padding: str = "valid",
) -> Array:
    """Add every row of ``cols`` back onto the window it came from: the adjoint of ``im2col``.

    Where windows overlap (stride smaller than the kernel) their contributions add up, so
    ``<im2col(x), cols> == <x, col2im(cols)>`` for all ``x`` and ``cols``. Contributions are
    added one kernel offset at a time, ``(p, q)`` in row-major order (fast twins must keep this
    order to give bit-identical sums).

    Parameters
    ----------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
        One row per window, laid out as ``im2col`` returns it (e.g. ``dout2d @ w2d.T``).
    x_shape : tuple of int, (N, H, W, C)
        Shape of the image the windows were taken from.
    KH, KW : int
        Window height and width.
    S : int or pair of int
        Stride ``(SH, SW)``.
    padding : {"valid", "same"}
        Contributions that land in the padding are dropped.

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
        Same dtype as ``cols``. For ``"same"`` padding this is a view into the padded sum.
    """
    check_nhwc(x_shape, "col2im x_shape")
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    N, H, W, C = x_shape
    OH, OW = output_hw(x_shape, KH, KW, (SH, SW), padding)
    if cols.shape != (N * OH * OW, KH * KW * C):
        raise ValueError(
            f"col2im cols: expected shape {(N * OH * OW, KH * KW * C)} for x_shape "
            f"{tuple(x_shape)}, got {cols.shape}"
        )
    (top, bottom), (left, right) = pad_amounts(x_shape, KH, KW, (SH, SW), padding)
    cols = cols.reshape(N, OH, OW, KH, KW, C)
    dx_pad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=cols.dtype)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] += cols[:, :, :, p, q, :]
    return dx_pad[:, top : top + H, left : left + W, :]
