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

Padding follows Keras. ``"valid"`` uses no padding. ``"same"`` pads with zeros so that
``OH = ceil(H / S)``; when the total padding is odd, the extra row (column) goes at the bottom
(right).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Pair = tuple[int, int]
PADDINGS = ("valid", "same")


def to_pair(value: int | Sequence[int], name: str) -> Pair:
    """Read a size given as one positive int or a pair of them (Keras's ``kernel_size=3``).

    Raises
    ------
    ValueError
        If ``value`` is not a positive int or a pair of positive ints; ``name`` is quoted.
    """
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def check_padding(padding: str) -> str:
    """Return ``padding`` if it is ``"valid"`` or ``"same"``; otherwise raise ``ValueError``."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    return padding


def conv_output_size(H: int, K: int, S: int, padding: str) -> int:
    """Length of a convolution's (or pooling's) output along one axis.

    Parameters
    ----------
    H : int
        Input length (height or width).
    K : int
        Kernel (window) length along that axis.
    S : int
        Stride along that axis.
    padding : {"valid", "same"}

    Returns
    -------
    int
        ``floor((H - K) / S) + 1`` for ``"valid"`` (0 if the kernel does not fit) and
        ``ceil(H / S)`` for ``"same"``.
    """
    check_padding(padding)
    if padding == "same":
        return -(-H // S)
    return max((H - K) // S + 1, 0)


def same_padding(H: int, K: int, S: int) -> tuple[int, int]:
    """Zeros to add before and after an axis of length ``H`` for ``"same"`` padding (Keras).

    Returns
    -------
    (before, after) : tuple of int
        ``P = max((OH - 1)*S + K - H, 0)`` with ``OH = ceil(H / S)``, split as
        ``before = P // 2`` and ``after = P - before``: an odd extra row or column goes at the
        bottom or right, as in Keras and TensorFlow.
    """
    OH = -(-H // S)
    P = max((OH - 1) * S + K - H, 0)
    return P // 2, P - P // 2


def pad_amounts(x_shape: Sequence[int], KH: int, KW: int, S: Pair, padding: str) -> tuple:
    """``((top, bottom), (left, right))`` padding of an NHWC input for the given window."""
    check_padding(padding)
    if padding == "valid":
        return (0, 0), (0, 0)
    _, H, W, _ = x_shape
    return same_padding(H, KH, S[0]), same_padding(W, KW, S[1])


def pad_input(x: Array, KH: int, KW: int, S: Pair, padding: str, value: float = 0.0) -> Array:
    """Pad the H and W axes of ``x`` with ``value`` (zeros for convolution, -inf for max-pool).

    Returns ``x`` itself (no copy) for ``"valid"`` padding.
    """
    (top, bottom), (left, right) = pad_amounts(x.shape, KH, KW, S, padding)
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def output_hw(x_shape: Sequence[int], KH: int, KW: int, S: Pair, padding: str) -> Pair:
    """``(OH, OW)`` for an NHWC input of ``x_shape``; ``ValueError`` if the window does not fit."""
    _, H, W, _ = x_shape
    OH = conv_output_size(H, KH, S[0], padding)
    OW = conv_output_size(W, KW, S[1], padding)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"a {KH}x{KW} window does not fit an input of height x width {H}x{W} with "
            f"padding {padding!r}; expected H >= {KH} and W >= {KW}, or padding='same'"
        )
    return OH, OW


def _check_nhwc(x_shape: Sequence[int], what: str) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"{what} must be 4-D (N, H, W, C), got shape {tuple(x_shape)}")


def check_out(out: Array, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """``out`` itself if it is a C-contiguous array of ``shape``'s size and ``dtype``, as the
    ``out=`` of a kernel must be; otherwise a ValueError naming what came."""
    if (
        not isinstance(out, np.ndarray)
        or out.size != math.prod(shape)
        or out.dtype != dtype
        or not out.flags.c_contiguous
    ):
        raise ValueError(
            f"out: expected a C-contiguous {np.dtype(dtype)} array of shape {shape}, got "
            f"{type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}"
        )
    return out


def im2col(
    x: Array,
    KH: int,
    KW: int,
    S: int | Sequence[int] = 1,
    padding: str = "valid",
    out: Array | None = None,
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
    out : ndarray, shape (N*OH*OW, KH*KW*C), optional
        A C-contiguous array of ``x``'s dtype to fill and return (a reused buffer, see
        ``tinycnn.fast.workspace``); by default a new array.

    Returns
    -------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
        Row ``(n*OH + i)*OW + j`` is the window of output pixel ``(n, i, j)``, read in
        ``(p, q, c)`` order: ``cols[row, (p*KW + q)*C + c] = x_pad[n, SH*i + p, SW*j + q, c]``.
    """
    _check_nhwc(x.shape, "im2col input x")
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    N, _, _, C = x.shape
    OH, OW = output_hw(x.shape, KH, KW, (SH, SW), padding)
    x_pad = pad_input(x, KH, KW, (SH, SW), padding)  # (N, H + pads, W + pads, C)
    if out is None:
        cols = np.empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    else:
        cols = check_out(out, (N * OH * OW, KH * KW * C), x.dtype).reshape(N, OH, OW, KH, KW, C)
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
    _check_nhwc(x_shape, "col2im x_shape")
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
