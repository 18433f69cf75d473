"""A fused step for ``Conv2D(relu)`` + ``MaxPool2D``: im2col, one matrix multiply, one pass.

Eager, the seed CNN's ``Conv2D(activation="relu")`` writes its whole output and reads it again
several times before ``MaxPool2D`` (bias, ReLU, its mask, pooling, and as many passes
backward). :class:`ConvReluPool` computes the same numbers with one fused pass after the
convolution's matrix multiply and one before its backward ones
(``tinycnn/fast/fused_numba.py``), keeping its large arrays in a :class:`Workspace` from step
to step. The results are bit-identical to the two layers: the same im2col matrix, the same
matrix multiplies, the same additions in the same order.

It runs only with ``compile(..., jit_compile=True)`` (see :mod:`tinycnn.fast.plan`), where the
direct and Winograd steps take the pairs they fit and this one takes the rest.
"""

from __future__ import annotations

from typing import TypeGuard

import numpy as np

from tinycnn import kernels
from tinycnn.fast import fused_numba
from tinycnn.fast.workspace import Workspace
from tinycnn.layers.base import Array, Layer
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.layers.relu import ReLU

__all__ = ["ConvReluPool", "can_fuse", "convolve", "convolve_backward", "is_conv3x3_relu_pool2"]


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


def is_conv3x3_relu_pool2(first: Layer, second: Layer) -> TypeGuard[Conv2D]:
    """True for a built ``Conv2D(F, 3, strides=1, padding="valid", activation="relu")`` then
    ``MaxPool2D(2)`` ("valid", strides 2): the pairs the direct and Winograd steps compute, each
    2x2 pooling window from its 4x4 input patch."""
    if not (isinstance(first, Conv2D) and isinstance(second, MaxPool2D)) or not first.built:
        return False
    return (
        isinstance(first.activation, ReLU)
        and first.kernel_size == (3, 3)
        and first.strides == (1, 1)
        and first.padding == "valid"
        and second.pool_size == (2, 2)
        and second.strides == (2, 2)
        and second.padding == "valid"
    )


def convolve(conv: Conv2D, x: Array, workspace: Workspace) -> tuple[Array, Array]:
    """``z = cols @ w2d`` (N, OH, OW, F), without bias or activation, and ``cols``.

    ``z`` and ``cols`` (N*OH*OW, KH*KW*C) are views of ``workspace`` arrays: valid until the
    next call with the same workspace.
    """
    conv._check_input(x)
    w = conv.params["w"]
    KH, KW, C, F = w.shape
    x = np.asarray(x, dtype=w.dtype)
    N, H, W, _ = x.shape
    OH, OW, _ = conv.output_shape((H, W, C))
    cols = workspace.array("cols", (N * OH * OW, KH * KW * C), w.dtype)
    cols = fused_numba.im2col_into(x, KH, KW, conv.strides, conv.padding, out=cols)
    z = workspace.array("z", (N, OH, OW, F), w.dtype)
    np.matmul(cols, w.reshape(-1, F), out=z.reshape(N * OH * OW, F))
    return z, cols


def convolve_backward(
    conv: Conv2D, dz: Array, db: Array, cols: Array, x_shape: tuple, input_grad: bool,
    workspace: Workspace,
) -> Array | None:  # fmt: skip
    """Store ``db`` (F,) and ``dw = colsᵀ @ dz2d`` in ``conv.grads``; return ``dx`` or None.

    The backward of :func:`convolve`, from ``dz`` = ∂loss/∂z (N, OH, OW, F); the same matrix
    multiplies as ``Conv2D.backward``.
    """
    w = conv.params["w"]
    KH, KW, C, F = w.shape
    dz2d = dz.reshape(-1, F)  # (N*OH*OW, F)
    conv.grads["b"] = db
    conv.grads["w"] = (cols.T @ dz2d).reshape(KH, KW, C, F)
    if not input_grad:
        return None
    dcols = workspace.array("dcols", cols.shape, w.dtype)  # (N*OH*OW, KH*KW*C)
    np.matmul(dz2d, w.reshape(-1, F).T, out=dcols)
    return kernels.col2im(dcols, x_shape, KH, KW, conv.strides, conv.padding)


class ConvReluPool:
    """``pool.forward(conv.forward(x))`` and its backward, with one fused pass after the
    convolution's matrix multiply.

    Parameters
    ----------
    conv : Conv2D
        With ``activation="relu"``.
    pool : MaxPool2D
        Right after ``conv``; "valid", non-overlapping windows (see :func:`can_fuse`).
    input_grad : bool, default True
        Whether ``backward`` returns ∂loss/∂x; a model's first layer needs none.

    Notes
    -----
    Forward: ``z, cols = convolve(conv, x)`` (N, OH, OW, F), then
    ``out, winner = bias_relu_maxpool_forward(z, b, ...)`` (N, PH', PW', F). Backward:
    ``dz, db = maxpool_relu_backward_bias_grad(dout, winner, ...)``, then
    ``convolve_backward``, which stores the gradients and returns ``dx`` (or None).
    """

    def __init__(self, conv: Conv2D, pool: MaxPool2D, input_grad: bool = True) -> None:
        if not can_fuse(conv, pool):
            raise ValueError(
                f"ConvReluPool: expected Conv2D(activation='relu') then a 'valid' MaxPool2D "
                f"with non-overlapping windows, got {conv.describe()} then {pool.describe()}"
            )
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.input_grad = input_grad
        self.workspace = Workspace()  # cols, z, dz and dcols, reused from step to step
        self._cache: tuple | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        """``x`` (N, H, W, C) -> the pooled ReLU of the convolution (N, PH', PW', F)."""
        z, cols = convolve(self.conv, x, self.workspace)
        (PH, PW), (SH, SW) = self.pool.pool_size, self.pool.strides
        out, winner = fused_numba.bias_relu_maxpool_forward(
            z, self.conv.params["b"], PH, PW, SH, SW
        )
        self._cache = (np.shape(x), z.shape, cols, winner)
        return out

    def backward(self, dout: Array) -> Array | None:
        """Fill the convolution's ``grads`` from ``dout`` (N, PH', PW', F); return ``dx``."""
        if self._cache is None:
            raise RuntimeError("ConvReluPool: call forward before backward")
        x_shape, z_shape, cols, winner = self._cache
        (PH, PW), (SH, SW) = self.pool.pool_size, self.pool.strides
        dout = np.asarray(dout)
        dz = self.workspace.array("dz", z_shape, dout.dtype)
        dz, db = fused_numba.maxpool_relu_backward_bias_grad(
            dout, winner, z_shape, PH, PW, SH, SW, out=dz
        )
        return convolve_backward(self.conv, dz, db, cols, x_shape, self.input_grad, self.workspace)
