"""Softmax: turns a row of scores (logits) into probabilities.

Notes
-----
Along the last axis, for each row ``z`` of length K::

    p[k] = exp(z[k] - max(z)) / Σ_j exp(z[j] - max(z))

Subtracting ``max(z)`` changes nothing mathematically (softmax is shift-invariant) but keeps
``exp`` from overflowing. The Jacobian is ``∂p[k]/∂z[j] = p[k] (δ[k,j] - p[j])``, so the
vector-Jacobian product is::

    dz = p * (dout - Σ_k dout[k] p[k])

For training, prefer the fused loss ``tinycnn.losses.SoftmaxCrossEntropy``: its gradient
``(p - y) / N`` is cheaper and more accurate than this layer followed by a log.
"""

from __future__ import annotations

import numpy as np

from tinycnn.layers.base import Array, Layer


def softmax(z: Array) -> Array:
    """Numerically stable softmax along the last axis.

    Parameters
    ----------
    z : ndarray, shape (N, K)
        Logits (any leading shape works; the last axis is normalised).

    Returns
    -------
    p : ndarray, shape (N, K)
        Probabilities: positive, each row sums to 1, same dtype as ``z``.
    """
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # largest entry of each row becomes exp(0)
    return e / e.sum(axis=-1, keepdims=True)


class Softmax(Layer):
    """Softmax over the last axis; no parameters.

    Parameters
    ----------
    name : str, optional
        Layer name shown by ``Sequential.summary``.
    """

    def forward(self, x: Array, training: bool = False) -> Array:
        """Normalise each row of ``x`` into probabilities.

        Parameters
        ----------
        x : ndarray, shape (N, K)
            Logits.
        training : bool
            Unused: softmax behaves the same in training and inference.

        Returns
        -------
        p : ndarray, shape (N, K)
        """
        p = softmax(x)
        self._cache = p
        return p

    def backward(self, dout: Array) -> Array:
        """Vector-Jacobian product of softmax.

        Parameters
        ----------
        dout : ndarray, shape (N, K)
            ∂loss/∂p.

        Returns
        -------
        dx : ndarray, shape (N, K)
            ∂loss/∂x = p * (dout - Σ_k dout[k] p[k]).
        """
        p = self._cache
        return p * (dout - np.sum(dout * p, axis=-1, keepdims=True))
