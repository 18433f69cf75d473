"""Max-pooling kernels: forward with the argmax "switches", backward routing through them.

Each output pixel is the maximum of a KH x KW window of the (padded) input, channel by channel::

    out[n,i,j,c] = max_pq x_pad[n, SH*i + p, SW*j + q, c]

The backward pass sends each ``dout[n,i,j,c]`` to the one input that won its window. Forward
therefore records, per output pixel, *which* offset won: ``argmax[n,i,j,c] = p*KW + q``.

Tie rule: the **first** maximum in row-major window order wins (the smallest ``p*KW + q``), as
``np.argmax`` and TensorFlow do. The forward loop below visits the offsets in that order and
replaces the running maximum only when a value is *strictly* larger.

Windows overlap when a stride is smaller than the window; an input that wins several windows
receives the sum of their gradients. ``"same"`` padding pads with ``-inf``, so padding never wins
unless a whole window is ``-inf``; gradients routed to padding are dropped.

Like ``im2col``, both functions loop over the KH*KW window offsets ``(p, q)`` and handle all
windows at once through one strided slice of the padded image per offset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tinycnn.kernels.geometry import Array, output_hw, pad_amounts, pad_input, to_pair


def maxpool_forward(
    x: Array, KH: int, KW: int, S: int | Sequence[int], padding: str = "valid"
) -> tuple[Array, NDArray[np.intp]]:
    """Max over every KH x KW window, and the offset of the first maximum.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
        Floating-point input (any memory layout).
    KH, KW : int
        Window height and width.
    S : int or pair of int
        Stride ``(SH, SW)``.
    padding : {"valid", "same"}
        Keras's rule; ``"same"`` pads with ``-inf``.

    Returns
    -------
    out : ndarray, shape (N, OH, OW, C)
        Window maxima, same dtype as ``x``.
    argmax : ndarray of intp, shape (N, OH, OW, C)
        ``p*KW + q`` of the first maximum of each window (row-major order).
    """
    if x.ndim != 4:
        raise ValueError(f"maxpool input x must be 4-D (N, H, W, C), got shape {x.shape}")
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    N, _, _, C = x.shape
    OH, OW = output_hw(x.shape, KH, KW, (SH, SW), padding)
    x_pad = pad_input(x, KH, KW, (SH, SW), padding, value=-np.inf)  # (N, H + pads, W + pads, C)
    out = np.full((N, OH, OW, C), -np.inf, dtype=x.dtype)
    argmax = np.zeros((N, OH, OW, C), dtype=np.intp)
    for k, (p, q) in enumerate(np.ndindex(KH, KW)):
        window = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]  # (N, OH, OW, C)
        better = window > out  # strictly larger: on a tie the earlier offset keeps the win
        np.copyto(out, window, where=better)
        argmax[better] = k
    return out, argmax


def maxpool_backward(
    dout: Array,
    argmax: NDArray[np.intp],
    x_shape: Sequence[int],
    KH: int,
    KW: int,
    S: int | Sequence[int],
    padding: str = "valid",
) -> Array:
    """Send each output gradient to the input that won its window.

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, C)
        ∂loss/∂out.
    argmax : ndarray of int, shape (N, OH, OW, C)
        The switches returned by ``maxpool_forward``.
    x_shape : tuple of int, (N, H, W, C)
        Shape of the forward input.
    KH, KW, S, padding
        As given to ``maxpool_forward``.

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
        ``dx[n, SH*i + p, SW*j + q, c] += dout[n,i,j,c]`` where ``argmax[n,i,j,c] == p*KW + q``,
        added one offset at a time in row-major order. Same dtype as ``dout``; for ``"same"``
        padding a view into the padded sum.
    """
    KH, KW = to_pair((KH, KW), "(KH, KW)")
    SH, SW = to_pair(S, "S")
    N, H, W, C = x_shape
    OH, OW = output_hw(x_shape, KH, KW, (SH, SW), padding)
    if dout.shape != (N, OH, OW, C) or argmax.shape != dout.shape:
        raise ValueError(
            f"maxpool_backward: expected dout and argmax of shape {(N, OH, OW, C)}, "
            f"got {dout.shape} and {argmax.shape}"
        )
    (top, bottom), (left, right) = pad_amounts(x_shape, KH, KW, (SH, SW), padding)
    dx_pad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=dout.dtype)
    for k, (p, q) in enumerate(np.ndindex(KH, KW)):
        routed = np.where(argmax == k, dout, 0)  # (N, OH, OW, C), zero where k lost
        dx_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] += routed
    return dx_pad[:, top : top + H, left : left + W, :]
