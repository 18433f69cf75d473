"""The geometry of a sliding window, shared by every room that slides one: output sizes, padding.

A KH x KW window moved with strides ``S = (SH, SW)`` over an NHWC input gives ``OH x OW``
outputs; Keras's padding rule decides how many zeros (or -inf, for max-pooling) surround the
input first. ``"valid"`` uses no padding: ``OH = floor((H - KH) / SH) + 1``. ``"same"`` pads so
that ``OH = ceil(H / SH)``; when the total padding is odd, the extra row (column) goes at the
bottom (right), as in Keras and TensorFlow. The im2col and pooling kernels (both twins), the
layers, the fast path, the pictures and the page all ask here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PADDINGS",
    "check_nhwc",
    "check_padding",
    "conv_output_size",
    "layer_output_hw",
    "output_hw",
    "pad_amounts",
    "pad_input",
    "same_padding",
    "to_pair",
    "window_geometry",
]

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


def check_nhwc(x_shape: Sequence[int], what: str) -> None:
    """ValueError naming ``what`` unless ``x_shape`` is 4-D (N, H, W, C)."""
    if len(x_shape) != 4:
        raise ValueError(f"{what} must be 4-D (N, H, W, C), got shape {tuple(x_shape)}")


def window_geometry(
    x_shape: Sequence[int], KH: int, KW: int, S: int | Sequence[int], padding: str
) -> tuple[int, int, int, int, int, int, int, int]:
    """``(KH, KW, SH, SW, OH, OW, PT, PL)``: window, strides, output size, top/left padding of
    a window on an NHWC input of ``x_shape`` (what the Numba loops take as plain ints)."""
    check_nhwc(x_shape, "the input")
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    OH, OW = output_hw(x_shape, KH, KW, (SH, SW), padding)
    (top, _), (left, _) = pad_amounts(x_shape, KH, KW, (SH, SW), padding)
    return KH, KW, SH, SW, OH, OW, top, left


def layer_output_hw(
    input_shape: Sequence[int], window: Pair, S: Pair, padding: str, layer: str, kind: str
) -> Pair:
    """``(OH, OW)`` of a layer's window (``kind``: "kernel" or "pool") on one example of shape
    ``(H, W, C)``; ``layer`` names the layer in the errors.

    Raises
    ------
    ValueError
        If ``input_shape`` is not ``(H, W, C)``, or a "valid" window does not fit.
    """
    if len(input_shape) != 3:
        raise ValueError(f"{layer}: expected input_shape (H, W, C), got {tuple(input_shape)}")
    H, W, _ = input_shape
    (KH, KW), (SH, SW) = window, S
    OH, OW = conv_output_size(H, KH, SH, padding), conv_output_size(W, KW, SW, padding)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{layer}: a {KH}x{KW} {kind} with padding 'valid' needs inputs of at least "
            f"{KH}x{KW}, got input_shape {tuple(input_shape)}"
        )
    return OH, OW
