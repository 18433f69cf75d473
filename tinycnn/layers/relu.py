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
        """Apply ``max(x, 0)``.

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
        fused = kernels.numba_kernel("relu_forward")
        if fused is not None:  # Numba backend: the two lines below in one pass, bit-identical
            out, self._cache = fused(x)
            return out
        self._cache = x > 0
        return np.maximum(x, 0)

    def forward_with_bias(self, z: Array, b: Array) -> Array:
        """``max(z + b, 0)`` for the layer whose activation this is; may overwrite ``z``.

        The same numbers as ``forward(z + b)``. On the Numba backend the bias add, the mask and
        the maximum are one pass over ``z`` (``kernels.numba_kernel("bias_relu_forward")``).

        Parameters
        ----------
        z : ndarray, shape (N, ..., F)
            The owner's output before its bias, a fresh C-contiguous array.
        b : ndarray, shape (F,)

        Returns
        -------
        out : ndarray, shape (N, ..., F)
        """
        fused = kernels.numba_kernel("bias_relu_forward")
        if fused is not None:
            out, self._cache = fused(z, b)
            return out
        z += b  # in place: no second array of z's size
        return self.forward(z)

    def backward(self, dout: Array) -> Array:
        """Pass the gradient through where the input was positive.

        Parameters
        ----------
        dout : ndarray, shape (N, ...)
            ∂loss/∂out, shaped like the last forward's output.

        Returns
        -------
        dx : ndarray, shape (N, ...)
        """
        fused = kernels.numba_kernel("relu_backward")
        if fused is not None:  # Numba backend: the line below, bit-identical
            return fused(dout, self._cache)
        return dout * self._cache

    def backward_with_bias_grad(self, dout: Array) -> tuple[Array, Array]:
        """``dz = backward(dout)`` and the owner's bias gradient ``db`` (``dz`` summed over all
        axes but the last). On the Numba backend both in one pass
        (``kernels.numba_kernel("relu_backward_bias_grad")``), bit-identical.

        Parameters
        ----------
        dout : ndarray, shape (N, ..., F)

        Returns
        -------
        dz : ndarray, shape (N, ..., F)
            ∂loss/∂(the owner's pre-activation).
        db : ndarray, shape (F,)
        """
        fused = kernels.numba_kernel("relu_backward_bias_grad")
        if fused is not None:
            return fused(dout, self._cache)
        dz = self.backward(dout)
        return dz, dz.reshape(-1, dz.shape[-1]).sum(axis=0)

    def decision_state(self) -> np.ndarray:
        """The boolean mask ``x > 0`` of the last forward pass (kinks flip it)."""
        return self._cache
