"""Fused steps for training on the Numba backend: ``Conv2D(relu)`` + ``MaxPool2D`` as one step.

A model is a list of layers, and ``Sequential.forward`` runs them one by one. The seed CNN's
``Conv2D(activation="relu")`` is followed by ``MaxPool2D(2)`` twice; between the two, the
convolution's whole output is written and read again several times (bias, ReLU, its mask,
pooling, and as many passes backward). :func:`plan` replaces each such pair by a
:class:`ConvReluPool` step that computes the same numbers with one fused pass after the
convolution's matrix multiply and one before its backward ones
(``tinycnn/fast/fused_numba.py``). The results are bit-identical to running the two layers;
the layers keep their parameters and gradients, only their intermediate state is skipped.

``fit`` trains with ``Sequential.forward(..., fused=True)``. On the NumPy backend, and for pairs
the kernels do not cover (overlapping or "same" pooling, another activation), :func:`plan`
returns the layers unchanged. Unless ``tinycnn.config.bit_identical()``, two kinds of pair get
a faster step that matches the layers to float32 rounding rather than bit for bit: a 3x3
convolution with several input channels followed by 2x2 pooling
(:class:`tinycnn.fast.winograd.WinogradConvReluPool`) and a one-channel first one
(:class:`tinycnn.fast.direct.DirectConvReluPool`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinycnn import config, kernels
from tinycnn.fast.workspace import Workspace
from tinycnn.layers.base import Array, Layer
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.layers.relu import ReLU

__all__ = ["ConvReluPool", "can_fuse", "plan"]


def can_fuse(first: Layer, second: Layer) -> bool:
    """True when ``first`` is a ``Conv2D(activation="relu")`` and ``second`` a "valid"
    ``MaxPool2D`` whose windows do not overlap."""
    if not (isinstance(first, Conv2D) and isinstance(second, MaxPool2D)):
        return False
    (PH, PW), (SH, SW) = second.pool_size, second.strides
    return (
        isinstance(first.activation, ReLU)
        and second.padding == "valid"
        and SH >= PH
        and SW >= PW
        and PH * PW <= 128
    )


class ConvReluPool:
    """``pool.forward(conv.forward(x))`` and its backward, with one fused pass after the
    convolution's matrix multiply.

    Parameters
    ----------
    conv : Conv2D
        With ``activation="relu"``.
    pool : MaxPool2D
        Right after ``conv``; "valid", non-overlapping windows (see :func:`can_fuse`).

    Notes
    -----
    Forward: ``z = conv.convolve(x)`` (N, OH, OW, F), then
    ``out, winner = bias_relu_maxpool_forward(z, b, ...)`` (N, PH', PW', F). Backward:
    ``dz, db = maxpool_relu_backward_bias_grad(dout, winner, ...)``, then
    ``conv.convolve_backward(dz, db)``, which stores the gradients and returns ``dx`` (or None).
    """

    def __init__(self, conv: Conv2D, pool: MaxPool2D) -> None:
        if not can_fuse(conv, pool):
            raise ValueError(
                f"ConvReluPool: expected Conv2D(activation='relu') then a 'valid' MaxPool2D "
                f"with non-overlapping windows, got {conv.describe()} then {pool.describe()}"
            )
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.workspace = Workspace()  # z and dz, reused from step to step
        self._cache: tuple | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        """``x`` (N, H, W, C) -> the pooled ReLU of the convolution (N, PH', PW', F)."""
        N, H, W, _ = np.shape(x)
        z_shape = (N, *self.conv.output_shape((H, W, self.conv.params["w"].shape[2])))
        z = self.workspace.array("z", z_shape, self.conv.params["w"].dtype)
        z = self.conv.convolve(x, out=z)
        (PH, PW), (SH, SW) = self.pool.pool_size, self.pool.strides
        fused = kernels.implementation("bias_relu_maxpool_forward", "numba")
        out, winner = fused(z, self.conv.params["b"], PH, PW, SH, SW)
        self._cache = (z.shape, winner)
        return out

    def backward(self, dout: Array) -> Array | None:
        """Fill the convolution's ``grads`` from ``dout`` (N, PH', PW', F); return ``dx``."""
        if self._cache is None:
            raise RuntimeError("ConvReluPool: call forward before backward")
        z_shape, winner = self._cache
        (PH, PW), (SH, SW) = self.pool.pool_size, self.pool.strides
        fused = kernels.implementation("maxpool_relu_backward_bias_grad", "numba")
        dout = np.asarray(dout)
        dz = self.workspace.array("dz", z_shape, dout.dtype)
        dz, db = fused(dout, winner, z_shape, PH, PW, SH, SW, out=dz)
        return self.conv.convolve_backward(dz, db)


def plan(layers: Sequence[Layer]) -> list[Any]:
    """The steps that run ``layers``.

    On the Numba backend each ``Conv2D(relu)`` + ``MaxPool2D`` pair becomes one step: unless
    ``config.bit_identical()``, a :class:`tinycnn.fast.direct.DirectConvReluPool` where
    :func:`~tinycnn.fast.direct.can_direct` accepts the pair, a
    :class:`tinycnn.fast.winograd.WinogradConvReluPool` where
    :func:`~tinycnn.fast.winograd.can_winograd`
    does, and otherwise (and always when bit-identical) a :class:`ConvReluPool` where
    :func:`can_fuse` does. Every other layer runs as itself. On the NumPy backend, all layers run
    unchanged.
    """
    if kernels.numba_kernel("bias_relu_maxpool_forward") is None:
        return list(layers)
    from tinycnn.fast.direct import DirectConvReluPool, can_direct
    from tinycnn.fast.winograd import WinogradConvReluPool, can_winograd

    # (does the pair fit, the step class): the first that fits is used
    choices: list[tuple[Callable[[Layer, Layer], bool], Callable[[Any, Any], Any]]] = []
    if not config.bit_identical():
        choices += [(can_direct, DirectConvReluPool), (can_winograd, WinogradConvReluPool)]
    choices.append((can_fuse, ConvReluPool))
    steps: list[Any] = []
    k = 0
    while k < len(layers):
        first, second = layers[k], layers[k + 1] if k + 1 < len(layers) else None
        make = next(
            (make for fits, make in choices if second is not None and fits(first, second)), None
        )
        if make is None:
            steps.append(first)
            k += 1
        else:
            steps.append(make(first, second))
            k += 2
    return steps
