"""Softmax cross-entropy, fused and numerically stable.

Notes
-----
For logits ``z`` of shape (N, K) and true classes ``y[n]`` (or one-hot rows ``Y[n]``)::

    log p[n,k] = z[n,k] - logsumexp(z[n])          logsumexp(z) = m + log Σ_k exp(z[k] - m)
    loss = -(1/N) Σ_n log p[n, y[n]]  =  -(1/N) Σ_n Σ_k Y[n,k] log p[n,k]
    dz = (p - Y) / N

``m = max_k z[k]`` makes the largest exponent ``exp(0) = 1``: nothing overflows, and the log
never sees a 0, so logits of 1e4 are fine. Computing ``softmax`` first and then ``log`` would
give ``log(0) = -inf`` for a confident wrong answer.

Fusing softmax with the loss also makes the gradient simple: ``(p - Y) / N``, each row summing
to zero. This is why a model ending in softmax is trained on its *logits*: Keras's names
``"sparse_categorical_crossentropy"`` (integer labels) and ``"categorical_crossentropy"``
(one-hot) both map to this loss here, and ``Sequential`` skips its final softmax while training
(``forward(..., logits=True)``). The formula ``(p - Y) / N`` assumes each row of ``Y`` sums to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn.layers.base import Array
from tinycnn.layers.softmax import softmax

__all__ = ["LOSSES", "SoftmaxCrossEntropy", "get_loss", "log_softmax", "softmax"]


def log_softmax(z: Array) -> Array:
    """Stable ``log(softmax(z))`` along the last axis via log-sum-exp.

    Parameters
    ----------
    z : ndarray, shape (N, K)

    Returns
    -------
    log_p : ndarray, shape (N, K)
    """
    shifted = z - z.max(axis=-1, keepdims=True)  # largest logit of each row becomes 0
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class SoftmaxCrossEntropy:
    """Mean cross-entropy between ``softmax(logits)`` and the labels, with its gradient.

    Use ``loss = ce.forward(logits, y)`` then ``dlogits = ce.backward()``.
    """

    def __init__(self) -> None:
        self._cache: tuple[Array, Array] | None = None

    def forward(self, logits: Array, y: np.ndarray) -> float:
        """Batch-mean cross-entropy.

        Parameters
        ----------
        logits : ndarray, shape (N, K)
            Unnormalised scores (float32 or float64; the loss is computed in that dtype).
        y : ndarray, shape (N,) of int, or shape (N, K)
            Integer class labels in ``[0, K)``, or one-hot (probability) rows.

        Returns
        -------
        loss : float

        Raises
        ------
        ValueError
            For logits that are not 2-D, labels of the wrong length, labels outside ``[0, K)``,
            or one-hot rows of the wrong width.
        """
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"expected logits of shape (N, K), got {logits.shape}")
        Y = self._one_hot(np.asarray(y), logits.shape, logits.dtype)  # (N, K)
        log_p = log_softmax(logits)
        N = logits.shape[0]
        self._cache = (np.exp(log_p), Y)
        # A sum of terms -log p >= 0; when every p rounds to 1 the negation gives -0.0, which
        # would print as a loss of "-0.0000". Adding +0.0 turns -0.0 into +0.0 and nothing else.
        return float(-(Y * log_p).sum() / N) + 0.0

    def backward(self) -> Array:
        """Gradient of the last ``forward`` with respect to its logits.

        Returns
        -------
        dlogits : ndarray, shape (N, K)
            ``(p - Y) / N``.
        """
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        p, Y = self._cache
        return (p - Y) / p.shape[0]

    @staticmethod
    def _one_hot(y: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> Array:
        """Check labels against logits of ``shape`` (N, K); return them one-hot (N, K)."""
        N, K = shape
        if y.ndim == 2:
            if y.shape != (N, K):
                raise ValueError(f"expected one-hot labels of shape {(N, K)}, got {y.shape}")
            return y.astype(dtype, copy=False)
        if y.ndim != 1 or y.shape[0] != N:
            raise ValueError(f"expected labels of shape ({N},) or {(N, K)}, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"expected integer class labels, got dtype {y.dtype}")
        if N and (y.min() < 0 or y.max() >= K):
            raise ValueError(f"expected labels in [0, {K}), got values from {y.min()} to {y.max()}")
        Y = np.zeros((N, K), dtype=dtype)
        Y[np.arange(N), y] = 1
        return Y

    def get_config(self) -> dict[str, Any]:
        """No hyperparameters."""
        return {}

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"


LOSSES: dict[str, type[SoftmaxCrossEntropy]] = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "sparse_categorical_crossentropy": SoftmaxCrossEntropy,
    "categorical_crossentropy": SoftmaxCrossEntropy,
}


def get_loss(loss: str | SoftmaxCrossEntropy) -> SoftmaxCrossEntropy:
    """Turn a name or a loss object into a loss object.

    Parameters
    ----------
    loss : str or loss object
        ``"softmax_cross_entropy"``, or Keras's ``"sparse_categorical_crossentropy"`` /
        ``"categorical_crossentropy"``, which all mean the fused loss on logits (see the module
        Notes: the model's final softmax is skipped in training). An object with ``forward``
        and ``backward`` is returned unchanged.

    Returns
    -------
    SoftmaxCrossEntropy or the object given

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {list(LOSSES)}")
        return LOSSES[loss]()
    if not (hasattr(loss, "forward") and hasattr(loss, "backward")):
        raise ValueError(f"expected a loss name or an object with forward/backward, got {loss!r}")
    return loss
