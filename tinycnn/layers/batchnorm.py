"""BatchNormalization: normalise each channel over the batch, then scale and shift.

Notes
-----
The last axis holds the ``C`` channels (features after Dense, channels after Conv2D); the
statistics are taken over every other axis: ``M = N`` elements per channel for ``(N, C)``,
``M = N*H*W`` for ``(N, H, W, C)``. With ``γ`` (``gamma``), ``β`` (``beta``) and ``ε``::

    training:   μ = (1/M) Σ x                 σ² = (1/M) Σ (x - μ)²      (biased, as Keras)
                moving_mean     = momentum * moving_mean     + (1 - momentum) * μ
                moving_variance = momentum * moving_variance + (1 - momentum) * σ²
    inference:  μ = moving_mean              σ² = moving_variance

    x_hat = (x - μ) / sqrt(σ² + ε)
    out   = γ * x_hat + β

Backward, with sums over the ``M`` elements of a channel. At inference μ and σ² are constants::

    dβ = Σ dout        dγ = Σ dout * x_hat        dx = dout * γ / sqrt(σ² + ε)

In training μ and σ² depend on every x of the channel, which adds two terms (the chain rule
through μ and σ², simplified)::

    dx = γ / sqrt(σ² + ε) * (dout - dβ / M - x_hat * dγ / M)

These are ``keras.layers.BatchNormalization``'s semantics and defaults (``momentum=0.99``,
``epsilon=1e-3``, γ = 1, β = 0, moving mean 0, moving variance 1); Keras computes the output as
``x * (γ / sqrt(σ² + ε)) + (β - μ γ / sqrt(σ² + ε))``, the same numbers in another order, so in
float32 the two agree to rounding. PyTorch's ``momentum=0.1`` is Keras's ``1 - momentum`` and it
keeps the *unbiased* variance in its running average.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from tinycnn.layers.base import Array, Layer, Shape


class BatchNormalization(Layer):
    """Normalise over the batch (and height, width) per channel; learn a scale and shift.

    Parameters
    ----------
    momentum : float
        Weight of the old value in the moving averages, in [0, 1).
    epsilon : float
        Added to the variance before the square root (finite, > 0: an infinite one would make
        every output β).
    name : str, optional
        Layer name shown by ``Sequential.summary``.

    Attributes
    ----------
    params : ``{"gamma", "beta"}``, each shape (C,)
    state : ``{"moving_mean", "moving_variance"}``, each shape (C,), non-trainable
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None):
        super().__init__(name)
        if not _is_number(momentum) or not 0 <= momentum < 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1), got {momentum!r}")
        if not _is_number(epsilon) or not 0 < epsilon < math.inf:
            raise ValueError(
                f"BatchNormalization: epsilon must be > 0 (a finite number), got {epsilon!r}"
            )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Make γ = 1, β = 0, moving mean 0 and moving variance 1 for the last axis's C."""
        super().build(input_shape)
        C = self.input_shape[-1]  # type: ignore[index]
        self.params = {"gamma": np.ones(C, np.float32), "beta": np.zeros(C, np.float32)}
        self.grads = {key: np.zeros_like(p) for key, p in self.params.items()}
        self.state = {
            "moving_mean": np.zeros(C, np.float32),
            "moving_variance": np.ones(C, np.float32),
        }

    def weight_shapes(self, input_shape: Shape) -> list[Shape]:
        """γ, β, moving mean and moving variance: ``[(C,)] * 4`` for inputs ``(..., C)``."""
        if len(input_shape) < 1:
            raise ValueError(f"BatchNormalization needs input (..., C), got {tuple(input_shape)}")
        return [(int(input_shape[-1]),)] * 4

    def forward(self, x: Array, training: bool = False) -> Array:
        """Normalise with the batch's statistics (training) or the moving ones (inference).

        Parameters
        ----------
        x : ndarray, shape (N, ..., C)
            E.g. (N, D) after Dense or (N, H, W, C) after Conv2D.
        training : bool
            Use and fold in the batch statistics.

        Returns
        -------
        out : ndarray, shape (N, ..., C)
        """
        C = self.params["gamma"].shape[0]
        if x.shape[-1] != C or x.ndim < 2:
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, ..., {C}), got {x.shape}"
            )
        axes = tuple(range(x.ndim - 1))  # every axis but the channels
        if training:
            self._check_batch(x)
            mean = x.mean(axis=axes)  # (C,)
            var = np.square(x - mean).mean(axis=axes)  # (C,), biased
            self._update_moving(mean, var)
        else:
            mean, var = self.state["moving_mean"], self.state["moving_variance"]
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.epsilon))  # (C,)
        x_hat = (x - mean) * inv_std  # (N, ..., C)
        self._cache = (x_hat, inv_std, training)
        return (x_hat * self.params["gamma"] + self.params["beta"]).astype(x.dtype, copy=False)

    def _check_batch(self, x: Array) -> None:
        """Refuse one value per channel: its batch variance is 0, so x_hat = 0, the output is β
        whatever x is, and dx = 0 freezes every layer below (PyTorch refuses it too)."""
        M = x.size // x.shape[-1]
        if M < 2:
            raise ValueError(
                f"{self.describe()}: training needs more than 1 value per channel, got input "
                f"{x.shape}: the variance of one value is 0, so the output would be beta "
                "whatever the input and no gradient would reach the layers below; use "
                "batch_size >= 2 (and no batch of 1 at the end of an epoch)"
            )

    def check_weight(self, key: str, w: Array) -> None:
        """Also refuse a negative moving variance (its square root would be NaN)."""
        super().check_weight(key, w)
        if key == "moving_variance" and np.min(w, initial=0) < 0:
            raise ValueError(
                f"{self.describe()}: moving_variance must be >= 0 (a variance), got "
                f"{float(np.min(w)):g}"
            )

    def _update_moving(self, mean: Array, var: Array) -> None:
        for key, batch in (("moving_mean", mean), ("moving_variance", var)):
            moving = self.state[key]
            self.state[key] = (moving * self.momentum + batch * (1 - self.momentum)).astype(
                moving.dtype
            )

    def backward(self, dout: Array) -> Array:
        """Fill ``grads["gamma"]``, ``grads["beta"]`` and return ∂loss/∂x (see Notes).

        Parameters
        ----------
        dout : ndarray, shape (N, ..., C)

        Returns
        -------
        dx : ndarray, shape (N, ..., C)
        """
        x_hat, inv_std, training = self._cache
        axes = tuple(range(dout.ndim - 1))
        dbeta = dout.sum(axis=axes)  # (C,)
        dgamma = (dout * x_hat).sum(axis=axes)  # (C,)
        self.grads = {"gamma": dgamma, "beta": dbeta}
        scale = self.params["gamma"] * inv_std  # (C,)
        if not training:
            return dout * scale
        M = dout.size // dout.shape[-1]
        return scale * (dout - dbeta / M - x_hat * (dgamma / M))

    def get_config(self) -> dict[str, Any]:
        """``{"momentum", "epsilon", "name"}``: ``BatchNormalization(**config)`` rebuilds it."""
        return {"momentum": self.momentum, "epsilon": self.epsilon, **super().get_config()}


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
