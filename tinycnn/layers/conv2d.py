"""Conv2D: a 2-D convolution (Keras's cross-correlation) as im2col + one matrix multiply.

Notes
-----
Shapes: ``x`` (N, H, W, C), kernel ``w`` (KH, KW, C, F), bias ``b`` (F,), ``out`` (N, OH, OW, F),
``cols`` (N*OH*OW, KH*KW*C), ``w2d = w.reshape(KH*KW*C, F)``. Strides ``S = (SH, SW)``.

Forward, with ``x_pad`` the input padded by Keras's rule::

    out[n,i,j,f] = b[f] + Σ_pqc x_pad[n, SH*i+p, SW*j+q, c] * w[p,q,c,f]
    cols = im2col(x, KH, KW, S, padding)          out = (cols @ w2d + b).reshape(N, OH, OW, F)

Backward, with ``dout2d = dout.reshape(N*OH*OW, F)``::

    dw = (cols.T @ dout2d).reshape(KH, KW, C, F)    db = Σ_nij dout
    dx = col2im(dout2d @ w2d.T, x.shape, KH, KW, S, padding)

Output size per axis (``conv_output_size``)::

    "valid": OH = floor((H - KH) / SH) + 1        "same": OH = ceil(H / SH)

With ``activation="relu"`` (or ``"softmax"``) the activation layer is applied to ``out`` in
``forward`` and its ``backward`` runs first in ``backward``, as ``Conv2D(...)`` followed by
``ReLU()`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinycnn import kernels
from tinycnn.initializers import Initializer, get_initializer, initializer_config
from tinycnn.kernels.geometry import check_padding, layer_output_hw, to_pair
from tinycnn.layers.activation import ActivatedLayer
from tinycnn.layers.base import Array, Shape


class Conv2D(ActivatedLayer):
    """2-D convolution over NHWC images with an HWIO kernel (Keras's ``Conv2D``).

    Parameters
    ----------
    filters : int
        Number of output channels F.
    kernel_size : int or pair of int
        ``(KH, KW)``; an int means a square kernel.
    strides : int or pair of int, default 1
        ``(SH, SW)``.
    padding : {"valid", "same"}, default "valid"
        ``"same"`` pads with zeros so that ``OH = ceil(H / SH)``, the odd extra row or column at
        the bottom or right (Keras).
    activation : {None, "linear", "relu", "softmax"}, default None
        Keras's shortcut for an activation layer after the convolution.
    name : str, optional
        Layer name.
    kernel_initializer, bias_initializer : str or callable
        How ``w`` and ``b`` start: a name from ``tinycnn.initializers`` (default
        ``"glorot_uniform"`` and ``"zeros"``, as in Keras) or a function
        ``init(shape, fan_in, fan_out, rng)`` with ``fan_in = KH*KW*C``, ``fan_out = KH*KW*F``.

    Attributes
    ----------
    params : {"w": ndarray, shape (KH, KW, C, F), "b": ndarray, shape (F,)}
        Glorot-uniform kernel and zero bias, made by ``build``.
    activation : Layer or None
        The activation layer made from ``activation``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        activation: str | None = None,
        name: str | None = None,
        kernel_initializer: str | Initializer = "glorot_uniform",
        bias_initializer: str | Initializer = "zeros",
    ) -> None:
        super().__init__(activation, name)
        if not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"Conv2D filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = to_pair(kernel_size, "Conv2D kernel_size")
        self.strides = to_pair(strides, "Conv2D strides")
        self.padding = check_padding(padding)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._init_w = get_initializer(kernel_initializer)
        self._init_b = get_initializer(bias_initializer)

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Make the kernel (KH, KW, C, F) and the bias (F,) for inputs ``(H, W, C)``.

        By default ``w ~ U(-limit, limit)`` with ``limit = sqrt(6 / (fan_in + fan_out))``,
        ``fan_in = KH*KW*C`` and ``fan_out = KH*KW*F`` (Keras's ``glorot_uniform``), and ``b = 0``;
        ``w`` is drawn first, then ``b``. Without ``rng`` a fresh, unseeded generator is used.
        """
        out_shape = self.output_shape(input_shape)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.check_size(self.weight_shapes(input_shape))  # a clear error, not a MemoryError
        KH, KW = self.kernel_size
        C, F = int(input_shape[2]), self.filters
        fan_in, fan_out = KH * KW * C, KH * KW * F
        rng = np.random.default_rng() if rng is None else rng
        self.params = {
            "w": self._init_w((KH, KW, C, F), fan_in, fan_out, rng),
            "b": self._init_b((F,), fan_in, fan_out, rng),
        }
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        if self.activation is not None:
            self.activation.build(out_shape, rng)
        super().build(input_shape, rng)

    def weight_shapes(self, input_shape: Shape) -> list[Shape]:
        """``[(KH, KW, C, F), (F,)]`` for inputs ``(H, W, C)``, without allocating."""
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D needs input (H, W, C), got {tuple(input_shape)}")
        KH, KW = self.kernel_size
        return [(KH, KW, int(input_shape[2]), self.filters), (self.filters,)]

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(OH, OW, F)`` for one input of shape ``(H, W, C)``."""
        OH, OW = layer_output_hw(
            input_shape, self.kernel_size, self.strides, self.padding, self.describe(), "kernel"
        )
        return OH, OW, self.filters

    def forward(self, x: Array, training: bool = False, apply_activation: bool = True) -> Array:
        """Convolve ``x`` (N, H, W, C) with the kernel; returns ``out`` (N, OH, OW, F).

        ``apply_activation=False`` returns the convolution before its activation (see
        ``Dense.forward``); ``backward`` then skips the activation too.
        """
        self._check_input(x)
        w, b = self.params["w"], self.params["b"]
        KH, KW, C, F = w.shape
        x = np.asarray(x, dtype=w.dtype)
        N, H, W, _ = x.shape
        OH, OW, _ = self.output_shape((H, W, C))
        cols = kernels.im2col(x, KH, KW, self.strides, self.padding)  # (N*OH*OW, KH*KW*C)
        z = (cols @ w.reshape(-1, F) + b).reshape(N, OH, OW, F)
        activation = self.activation if apply_activation else None
        self._cache = (x.shape, cols, activation)
        return z if activation is None else activation.forward(z, training)

    def backward(self, dout: Array) -> Array:
        """Fill ``grads["w"]``, ``grads["b"]`` from ``dout`` (N, OH, OW, F); return ``dx``.

        Returns
        -------
        dx : ndarray, shape (N, H, W, C)
        """
        x_shape, cols, activation = self._cache
        w = self.params["w"]
        KH, KW, C, F = w.shape
        dz = dout if activation is None else activation.backward(dout)
        dz2d = dz.reshape(-1, F)  # (N*OH*OW, F)
        self.grads["w"] = (cols.T @ dz2d).reshape(KH, KW, C, F)
        self.grads["b"] = dz2d.sum(axis=0)  # (F,)
        dcols = dz2d @ w.reshape(-1, F).T  # (N*OH*OW, KH*KW*C)
        return kernels.col2im(dcols, x_shape, KH, KW, self.strides, self.padding)

    def _check_input(self, x: Array) -> None:
        if not self.built:
            raise RuntimeError(
                f"{self.describe()} is not built: call build(input_shape, rng) first "
                "or add the layer to a Sequential model"
            )
        C = self.params["w"].shape[2]
        if np.ndim(x) != 4 or np.shape(x)[3] != C:
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, H, W, {C}), got {np.shape(x)}"
            )

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this layer with ``Conv2D(**config)``."""
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": self.activation_name,
            **initializer_config(self.kernel_initializer, self.bias_initializer),
            **super().get_config(),
        }
