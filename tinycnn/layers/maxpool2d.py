"""MaxPool2D: the maximum of each pooling window, channel by channel (Keras's ``MaxPooling2D``).

Notes
-----
Shapes: ``x`` (N, H, W, C), ``out`` and ``argmax`` (N, OH, OW, C); window ``(KH, KW) =
pool_size``, strides ``S = (SH, SW)`` (default: the pool size, so windows tile the image).

Forward, with ``x_pad`` the input padded with -inf by Keras's rule::

    out[n,i,j,c]    = max_pq x_pad[n, SH*i+p, SW*j+q, c]
    argmax[n,i,j,c] = p*KW + q of the FIRST maximum in row-major window order (as np.argmax)

Backward: the gradient flows only to the winner of each window; where windows overlap
(``strides < pool_size``) the contributions add::

    dx[n, SH*i+p, SW*j+q, c] += dout[n,i,j,c]    for (p, q) = divmod(argmax[n,i,j,c], KW)

Output size per axis (``conv_output_size``)::

    "valid": OH = floor((H - KH) / SH) + 1        "same": OH = ceil(H / SH)

The max has a kink wherever two inputs of a window tie: ``decision_state()`` returns the switches
``argmax`` so that a gradient check can see when a perturbation changes the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinycnn import kernels
from tinycnn.kernels.geometry import check_padding, layer_output_hw, to_pair
from tinycnn.layers.base import Array, Layer, Shape


class MaxPool2D(Layer):
    """2-D max pooling over NHWC images; no parameters.

    Parameters
    ----------
    pool_size : int or pair of int, default 2
        Window ``(KH, KW)``.
    strides : int or pair of int, optional
        ``(SH, SW)``; default ``pool_size`` (Keras).
    padding : {"valid", "same"}, default "valid"
        ``"same"`` pads with -inf so that ``OH = ceil(H / SH)``, the odd extra row or column at
        the bottom or right (Keras).
    name : str, optional
        Layer name.
    """

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.pool_size = to_pair(pool_size, "MaxPool2D pool_size")
        self.strides = self.pool_size if strides is None else to_pair(strides, "MaxPool2D strides")
        self.padding = check_padding(padding)

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(OH, OW, C)`` for one input of shape ``(H, W, C)``."""
        OH, OW = layer_output_hw(
            input_shape, self.pool_size, self.strides, self.padding, self.describe(), "pool"
        )
        C = input_shape[2]
        return OH, OW, C

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Check that ``input_shape`` (H, W, C) can be pooled; there are no weights."""
        self.output_shape(input_shape)
        super().build(input_shape, rng)

    def forward(self, x: Array, training: bool = False) -> Array:
        """Pool ``x`` (N, H, W, C); returns ``out`` (N, OH, OW, C), same float dtype."""
        if np.ndim(x) != 4:
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, H, W, C), got {np.shape(x)}"
            )
        if self.input_shape is not None and np.shape(x)[3] != self.input_shape[2]:
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, H, W, {self.input_shape[2]}), "
                f"got {np.shape(x)}"
            )
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)  # -inf padding needs a floating dtype
        self.output_shape(x.shape[1:])
        KH, KW = self.pool_size
        out, argmax = kernels.maxpool_forward(x, KH, KW, self.strides, self.padding)
        self._cache = (x.shape, argmax)
        return out

    def backward(self, dout: Array) -> Array:
        """Route ``dout`` (N, OH, OW, C) to each window's first maximum; returns ``dx``."""
        x_shape, argmax = self._cache
        KH, KW = self.pool_size
        return kernels.maxpool_backward(dout, argmax, x_shape, KH, KW, self.strides, self.padding)

    def decision_state(self) -> np.ndarray:
        """The switches ``argmax`` (N, OH, OW, C) of the last forward pass."""
        return self._cache[1]

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this layer with ``MaxPool2D(**config)``."""
        return {
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            **super().get_config(),
        }
