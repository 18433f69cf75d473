"""Dropout: during training, zero a random fraction ``rate`` of the activations.

Notes
-----
*Inverted* dropout, as Keras does it. In training, each element is kept with probability
``1 - rate``, and kept elements are scaled by ``1 / (1 - rate)`` so the expected output equals
the input; at inference the layer is the identity::

    mask[n, ...] = (u >= rate) / (1 - rate),   u ~ U[0, 1)  drawn fresh every training step
    out = x * mask            dx = dout * mask

Randomness comes from ``layer.rng``, a ``numpy.random.Generator`` made from ``seed`` or, when
``seed`` is None, the generator the model passes to ``build``.

Reproducible masks, for gradient checks: a gradient check runs forward many times and needs the
same mask each time. Either construct ``Dropout(rate, seed, fixed_mask=True)`` (the mask drawn
in the first training forward is reused while the input shape stays the same), or call
``layer.reseed(seed)`` before each forward. (``tinycnn.gradcheck(..., training=True)`` also
rewinds ``layer.rng`` before every forward pass, so either way works with it.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn.layers.base import Array, Layer, Shape


class Dropout(Layer):
    """Inverted dropout: drop a fraction ``rate``, scale the rest by ``1/(1-rate)``.

    Parameters
    ----------
    rate : float
        Fraction of the inputs to drop, in [0, 1).
    seed : int, optional
        Seed of the layer's own generator; if None it uses the generator given to ``build``.
    fixed_mask : bool
        Reuse the first training mask (for gradient checks, never for real training).
    name : str, optional
        Layer name shown by ``Sequential.summary``.
    """

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        fixed_mask: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.fixed_mask = bool(fixed_mask)
        self.rng = np.random.default_rng(seed)
        self._mask: Array | None = None

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Take the model's generator when no ``seed`` was given."""
        super().build(input_shape)
        if self.seed is None and rng is not None:
            self.rng = rng

    def reseed(self, seed: int) -> None:
        """Restart the generator from ``seed`` and forget a fixed mask."""
        self.rng = np.random.default_rng(seed)
        self._mask = None

    def forward(self, x: Array, training: bool = False) -> Array:
        """Drop and rescale in training; pass ``x`` through unchanged at inference.

        Parameters
        ----------
        x : ndarray, shape (N, ...)
            Any shape.
        training : bool
            Dropout acts only when True.

        Returns
        -------
        out : ndarray, shape (N, ...), same dtype as ``x``
        """
        if not training or self.rate == 0:
            self._cache = None
            return x
        mask = self._mask
        if not self.fixed_mask or mask is None or mask.shape != x.shape:
            keep = self.rng.random(x.shape) >= self.rate
            mask = self._mask = keep / (1 - self.rate)  # kept elements scaled by 1/(1-rate)
        mask = mask.astype(x.dtype, copy=False)
        self._cache = mask
        return x * mask

    def backward(self, dout: Array) -> Array:
        """Route the gradient through the kept elements with the same scale.

        Parameters
        ----------
        dout : ndarray, shape (N, ...)

        Returns
        -------
        dx : ndarray, shape (N, ...)
        """
        mask = self._cache
        return dout if mask is None else dout * mask

    def get_config(self) -> dict[str, Any]:
        """``{"rate", "seed", "fixed_mask", "name"}``: rebuilds it with ``Dropout(**config)``."""
        config: dict[str, Any] = {"rate": self.rate, "seed": self.seed}
        if self.fixed_mask:
            config["fixed_mask"] = True
        return {**config, **super().get_config()}
