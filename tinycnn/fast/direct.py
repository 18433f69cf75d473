"""A fused training step for a one-channel first ``Conv2D(3x3, relu)`` + ``MaxPool2D(2)``.

The seed CNN's first convolution sees grey images: one input channel. Through im2col its matrix
multiply has only 9 numbers per row, so most of its time goes to moving ``cols``, the output
``z`` (N, 26, 26, 32: 5.5 MB at batch 64) and its gradient. :class:`DirectConvReluPool` computes
each 2x2 pooling window's four outputs straight from its 4x4 input patch, applies the bias,
ReLU and the maximum in the same loop, and makes ``dw`` and ``db`` from the pooled gradient
window by window (``tinycnn/fast/direct_numba.py`` has the math). Nothing of the size of
``z`` is ever written.

A first layer needs no input gradient; when one is asked for (``input_grad=True``), the
backward pass recomputes the im2col matrix and takes the route of
:class:`tinycnn.fast.fused.ConvReluPool` from this step's winners.

The numbers match the layers to float32 rounding, not bit for bit. With ``jit_compile=True``,
:func:`tinycnn.fast.plan.plan` uses this step for the pairs :func:`can_direct` accepts.
"""

from __future__ import annotations

import numpy as np

from tinycnn.fast import direct_numba, fused_numba
from tinycnn.fast.fused import convolve, convolve_backward, is_conv3x3_relu_pool2
from tinycnn.fast.workspace import Workspace
from tinycnn.layers.base import Array, Layer
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.maxpool2d import MaxPool2D

__all__ = ["DirectConvReluPool", "can_direct"]


def can_direct(first: Layer, second: Layer) -> bool:
    """True for a built ``Conv2D(F, 3, strides=1, padding="valid", activation="relu")`` with
    one input channel, then ``MaxPool2D(2)`` ("valid", strides 2)."""
    return is_conv3x3_relu_pool2(first, second) and first.params["w"].shape[2] == 1


class DirectConvReluPool:
    """``pool.forward(conv.forward(x))`` and its backward, window by window, for one channel.

    Parameters
    ----------
    conv : Conv2D
        3x3, stride 1, "valid", ``activation="relu"``, one input channel.
    pool : MaxPool2D
        2x2 with strides 2, "valid", right after ``conv`` (see :func:`can_direct`).
    input_grad : bool, default True
        Whether ``backward`` returns ∂loss/∂x; a model's first layer needs none.
    """

    def __init__(self, conv: Conv2D, pool: MaxPool2D, input_grad: bool = True) -> None:
        if not can_direct(conv, pool):
            raise ValueError(
                "DirectConvReluPool: expected a built Conv2D(F, 3, strides=1, padding='valid', "
                "activation='relu') with 1 input channel then MaxPool2D(2), "
                f"got {conv.describe()} then {pool.describe()}"
            )
        self.conv, self.pool = conv, pool
        self.layers = (conv, pool)
        self.input_grad = input_grad
        self._cache: tuple | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        """``x`` (N, H, W, 1) -> the pooled ReLU of the convolution (N, (H-2)//2, (W-2)//2, F)."""
        self.conv._check_input(x)
        w, b = self.conv.params["w"], self.conv.params["b"]
        x = np.asarray(x).astype(w.dtype, copy=False)
        forward = direct_numba.conv3x3_relu_maxpool_forward
        out, winner = forward(x, w, b)
        self._cache = (x, winner)
        return out

    def backward(self, dout: Array) -> Array | None:
        """Fill the convolution's ``grads`` from ``dout`` (N, TH, TW, F); return ``dx`` (or
        None when the convolution needs no input gradient)."""
        if self._cache is None:
            raise RuntimeError("DirectConvReluPool: call forward before backward")
        x, winner = self._cache
        dout = np.asarray(dout, dtype=x.dtype)
        if self.input_grad:  # rare (a first layer): the im2col route gives dx
            workspace = Workspace()
            z, cols = convolve(self.conv, x, workspace)
            route = fused_numba.maxpool_relu_backward_bias_grad
            dz, db = route(dout, winner, z.shape, 2, 2, 2, 2)
            return convolve_backward(self.conv, dz, db, cols, x.shape, True, workspace)
        backward = direct_numba.conv3x3_relu_maxpool_backward
        self.conv.grads["w"], self.conv.grads["b"] = backward(x, dout, winner)
        return None
