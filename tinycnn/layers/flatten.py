"""Flatten: turn each example's feature map into one vector, for the Dense layers that follow.

Notes
-----
``out = x.reshape(N, H*W*C)`` and ``dx = dout.reshape(N, H, W, C)``. Features come out in
row-major (C) order, i.e. ordered by (H, W, C) with the channel varying fastest, exactly as
Keras's ``Flatten`` on NHWC data, so the first Dense kernel copies across unchanged.
"""

from __future__ import annotations

import math

from tinycnn.layers.base import Array, Layer, Shape


class Flatten(Layer):
    """Reshape (N, H, W, C) (or any (N, ...)) to (N, H*W*C); no parameters.

    Parameters
    ----------
    name : str, optional
        Layer name shown by ``Sequential.summary``.
    """

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(H*W*C,)`` for inputs ``(H, W, C)``."""
        return (math.prod(input_shape),)

    def forward(self, x: Array, training: bool = False) -> Array:
        """Flatten every example.

        Parameters
        ----------
        x : ndarray, shape (N, H, W, C)
            Any shape with a batch axis first.
        training : bool
            Unused.

        Returns
        -------
        out : ndarray, shape (N, H*W*C)
        """
        if x.ndim < 2:
            raise ValueError(f"{self.describe()}: expected input of shape (N, ...), got {x.shape}")
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)  # (N, H*W*C)

    def backward(self, dout: Array) -> Array:
        """Give the gradient back its input shape.

        Parameters
        ----------
        dout : ndarray, shape (N, H*W*C)

        Returns
        -------
        dx : ndarray, shape (N, H, W, C)
        """
        return dout.reshape(self._cache)
