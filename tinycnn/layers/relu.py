"""ReLU: the rectified linear unit, ``out = max(x, 0)`` element by element.

Notes
-----
Forward and backward, for any input shape::

    out = max(x, 0)
    dx  = dout * (x > 0)

At ``x == 0`` the function has a kink: we use the subgradient 0 there (as TensorFlow does).
The mask ``x > 0`` of the last forward pass is the layer's *decision state*; a gradient check
compares it between ``x + h`` and ``x - h`` to tell a kink from a bug.
"""

from __future__ import annotations

import numpy as np

from tinycnn import kernels
from tinycnn.layers.base import Array, Layer


class ReLU(Layer):
    """Rectified linear unit, ``max(x, 0)``; no parameters, any input shape.

    Parameters
    ----------
    name : str, optional
        Layer name shown by ``Sequential.summary``.
    """

    def forward(self, x: Array, training: bool = False) -> Array:
        """Apply ``max(x, 0)``, keeping the mask ``x > 0`` for ``backward``.

        Parameters
        ----------
        x : ndarray, shape (N, ...)
            Any shape; the output has the same shape and dtype.
        training : bool
            Unused: ReLU behaves the same in training and inference.

        Returns
        -------
        out : ndarray, shape (N, ...)
        """
        out, self._cache = kernels.relu_forward(x)  # out = max(x, 0), mask = x > 0
        return out

    def backward(self, dout: Array) -> Array:
        """Pass the gradient through where the input was positive: ``dx = dout * mask``.

        Parameters
        ----------
        dout : ndarray, shape (N, ...)
            ∂loss/∂out, shaped like the last forward's output.

        Returns
        -------
        dx : ndarray, shape (N, ...)
        """
        return kernels.relu_backward(dout, self._cache)

    def decision_state(self) -> np.ndarray:
        """The boolean mask ``x > 0`` of the last forward pass (kinks flip it)."""
        return self._cache
