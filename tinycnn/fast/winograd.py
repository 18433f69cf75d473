"""A fused training step for ``Conv2D(3x3, relu)`` + ``MaxPool2D(2)`` by Winograd F(2x2, 3x3).

:class:`tinycnn.fast.fused.ConvReluPool` computes a convolution as im2col and one matrix multiply,
bit-identical to the layers. For a 3x3 convolution with stride 1 followed by 2x2 pooling,
:class:`WinogradConvReluPool` gets the same result with 2.25x fewer multiplies: each 2x2 pooling
window is one Winograd output tile, computed from its 4x4 input patch with 16 multiplies per
channel pair instead of 36 (the math is in ``tinycnn/fast/winograd_numba.py``)::

    V = input_transform(x)          (16, N*T, C)       T = pooled windows per image
    U = kernel_transform(w)         (16, C, F)
    M[t] = V[t] @ U[t]              (16, N*T, F)       16 matrix multiplies
    out = maxpool(relu(Aᵀ M A + b)) (N, TH, TW, F)     one pass

and backward ``dM`` from the pooled gradient, ``dw`` from ``V[t]ᵀ @ dM[t]``, ``dx`` from
``dM[t] @ U[t]ᵀ``. For the seed CNN's second convolution (13x13x32 -> 11x11x64, pooled to 5x5)
it also skips the 11th output row and column that pooling drops.

The numbers match the layers to float32 rounding, not bit for bit: the transforms add before
they multiply. With ``jit_compile=True``, :func:`tinycnn.fast.plan.plan` uses this step where
:func:`can_winograd` says the pair fits.
"""

from __future__ import annotations

import numpy as np

from tinycnn.fast import winograd_numba
from tinycnn.fast.fused import is_conv3x3_relu_pool2
from tinycnn.fast.workspace import Workspace
from tinycnn.layers.base import Array, Layer
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.maxpool2d import MaxPool2D

__all__ = ["MIN_CHANNELS", "WinogradConvReluPool", "can_winograd"]

MIN_CHANNELS = 8  # with fewer input channels (a first layer's 1 or 3) im2col is cheaper


def can_winograd(first: Layer, second: Layer) -> bool:
    """True for ``Conv2D(F, 3, strides=1, padding="valid", activation="relu")`` with at least
    ``MIN_CHANNELS`` input channels, then ``MaxPool2D(2)`` ("valid", strides 2)."""
    return is_conv3x3_relu_pool2(first, second) and first.params["w"].shape[2] >= MIN_CHANNELS


class WinogradConvReluPool:
    """``pool.forward(conv.forward(x))`` and its backward by Winograd F(2x2, 3x3).

    Parameters
    ----------
    conv : Conv2D
        3x3, stride 1, "valid", ``activation="relu"``, at least ``MIN_CHANNELS`` input channels.
    pool : MaxPool2D
        2x2 with strides 2, "valid", right after ``conv`` (see :func:`can_winograd`).
    input_grad : bool, default True
        Whether ``backward`` returns ∂loss/∂x; a model's first layer needs none.

    Notes
    -----
    Scratch arrays, reused from step to step: ``V`` (16, N*T, C), which backward overwrites with
    ``dV`` once ``dw`` is made (so each forward allows one backward that returns ``dx``), and
    ``M`` (16, N*T, F), which backward overwrites with ``dM``.
    """

    def __init__(self, conv: Conv2D, pool: MaxPool2D, input_grad: bool = True) -> None:
        if not can_winograd(conv, pool):
            raise ValueError(
                "WinogradConvReluPool: expected a built Conv2D(F, 3, strides=1, padding='valid', "
                f"activation='relu') with >= {MIN_CHANNELS} input channels then MaxPool2D(2), "
                f"got {conv.describe()} then {pool.describe()}"
            )
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.input_grad = input_grad
        self.workspace = Workspace()
        self._cache: tuple | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        """``x`` (N, H, W, C) -> the pooled ReLU of the convolution (N, (H-2)//2, (W-2)//2, F)."""
        self.conv._check_input(x)
        x = np.asarray(x)
        w, b = self.conv.params["w"], self.conv.params["b"]
        N, H, W, C = x.shape
        F = w.shape[3]
        TH, TW = (H - 2) // 2, (W - 2) // 2
        R = N * TH * TW
        V = self.workspace.array("V", (16, R, C), w.dtype)
        V = winograd_numba.winograd_input_transform(x.astype(w.dtype, copy=False), out=V)
        U = winograd_numba.winograd_kernel_transform(w)
        M = np.matmul(V, U, out=self.workspace.array("M", (16, R, F), w.dtype))
        pool = winograd_numba.winograd_bias_relu_maxpool
        out, winner = pool(M, b, (N, TH, TW, F))
        self._cache = (x.shape, V, U, winner)
        return out

    def backward(self, dout: Array) -> Array | None:
        """Fill the convolution's ``grads`` from ``dout`` (N, TH, TW, F); return ``dx``."""
        if self._cache is None:
            raise RuntimeError("WinogradConvReluPool: call forward before backward")
        x_shape, V, U, winner = self._cache
        dout = np.asarray(dout, dtype=V.dtype)
        R, F = V.shape[1], U.shape[2]
        dM = self.workspace.array("M", (16, R, F), V.dtype)  # M is no longer needed
        dM, db = winograd_numba.winograd_pool_backward(dout, winner, out=dM)
        dUT = np.matmul(dM.transpose(0, 2, 1), V)  # (16, F, C): dU[t]ᵀ = dM[t]ᵀ @ V[t]
        kernel_grad = winograd_numba.winograd_kernel_grad
        self.conv.grads["w"] = kernel_grad(np.ascontiguousarray(dUT.transpose(0, 2, 1)))
        self.conv.grads["b"] = db
        if not self.input_grad:
            return None
        dV = np.matmul(dM, U.transpose(0, 2, 1), out=V)  # V is no longer needed
        self._cache = None  # V is gone: another backward needs another forward
        return winograd_numba.winograd_input_grad(dV, x_shape)
