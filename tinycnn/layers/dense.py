"""Dense (fully connected) layer: every output unit sees every input feature.

Notes
-----
For a batch ``x`` of N vectors of D features, ``w`` of shape (D, units) and ``b`` of shape
(units,)::

    z[n,u] = Σ_d x[n,d] * w[d,u] + b[u]        z = x @ w + b
    out = activation(z)                          (identity when activation is None)

Backward, given ``dout`` = ∂loss/∂out (first through the activation, giving ``dz``)::

    dw = x.T @ dz        db = Σ_n dz[n]        dx = dz @ w.T

The kernel starts Glorot-uniform, ``w ~ U(-L, L)`` with ``L = sqrt(6 / (D + units))``, and the
bias at zero, as in Keras (other schemes: ``kernel_initializer``, ``bias_initializer`` and
``tinycnn.initializers``; fan_in = D, fan_out = units). The kernel shape (D, units) is Keras's,
so weights copy across.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn.initializers import Initializer, get_initializer, initializer_config
from tinycnn.layers.activation import ActivatedLayer
from tinycnn.layers.base import Array, Shape


class Dense(ActivatedLayer):
    """Fully connected layer ``out = activation(x @ w + b)``.

    Parameters
    ----------
    units : int
        Number of output features.
    activation : {None, "linear", "relu", "softmax"}
        Applied after the affine map; available as ``layer.activation`` (a layer or None).
    kernel_initializer, bias_initializer : str or callable
        How ``w`` and ``b`` start: a name from ``tinycnn.initializers`` (default
        ``"glorot_uniform"`` and ``"zeros"``, as in Keras) or a function
        ``init(shape, fan_in, fan_out, rng)``.
    name : str, optional
        Layer name shown by ``Sequential.summary``.

    Attributes
    ----------
    params : dict
        ``{"w": (D, units), "b": (units,)}`` after ``build``.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        name: str | None = None,
        kernel_initializer: str | Initializer = "glorot_uniform",
        bias_initializer: str | Initializer = "zeros",
    ):
        super().__init__(activation, name)
        if int(units) != units or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._init_w = get_initializer(kernel_initializer)
        self._init_b = get_initializer(bias_initializer)

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Make ``w`` (D, units) and ``b`` (units,) for inputs (D,), drawing ``w`` then ``b``
        from ``rng`` (by default Glorot-uniform and zeros)."""
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.describe()}: expected input shape (D,) (one vector per example; "
                f"use Flatten first), got {tuple(input_shape)}"
            )
        super().build(input_shape)
        self.check_size(self.weight_shapes(input_shape))  # Dense(10**9): an error, not a crash
        rng = rng if rng is not None else np.random.default_rng()
        D = int(input_shape[0])
        self.params = {
            "w": self._init_w((D, self.units), D, self.units, rng),
            "b": self._init_b((self.units,), D, self.units, rng),
        }
        self.grads = {key: np.zeros_like(p) for key, p in self.params.items()}

    def weight_shapes(self, input_shape: Shape) -> list[Shape]:
        """``[(D, units), (units,)]`` for inputs ``(D,)``, without allocating."""
        if len(input_shape) != 1:
            raise ValueError(f"Dense needs input (D,), got {tuple(input_shape)}")
        return [(int(input_shape[0]), self.units), (self.units,)]

    def output_shape(self, input_shape: Shape) -> Shape:
        """``(units,)`` for inputs ``(D,)``."""
        return (self.units,)

    def forward(self, x: Array, training: bool = False, apply_activation: bool = True) -> Array:
        """Affine map, then the activation.

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Cast to the dtype of the parameters.
        training : bool
            Unused: Dense behaves the same in training and inference.
        apply_activation : bool, default True
            False returns ``z`` before the activation: ``Sequential.forward(..., logits=True)``
            asks for that from a last ``Dense(K, activation="softmax")``, because the fused loss
            takes logits. ``backward`` then skips the activation too.

        Returns
        -------
        out : ndarray, shape (N, units)
        """
        w, b = self.params["w"], self.params["b"]
        if x.ndim != 2 or x.shape[1] != w.shape[0]:
            raise ValueError(
                f"{self.describe()}: expected input of shape (N, {w.shape[0]}), got {x.shape}"
            )
        x = x.astype(w.dtype, copy=False)
        activation = self.activation if apply_activation else None
        self._cache = (x, activation)
        z = x @ w + b  # (N, units)
        return z if activation is None else activation.forward(z, training)

    def backward(self, dout: Array) -> Array:
        """Fill ``grads["w"]``, ``grads["b"]``; return ∂loss/∂x.

        Parameters
        ----------
        dout : ndarray, shape (N, units)
            ∂loss/∂out.

        Returns
        -------
        dx : ndarray, shape (N, D)
        """
        x, activation = self._cache
        dz = dout if activation is None else activation.backward(dout)
        self.grads["w"] = x.T @ dz  # (D, units)
        self.grads["b"] = dz.sum(axis=0)  # (units,)
        return dz @ self.params["w"].T  # (N, D)

    def get_config(self) -> dict[str, Any]:
        """``{"units", "activation", "name"}`` and any initializer that is not the default:
        rebuilds the layer with ``Dense(**config)``."""
        return {
            "units": self.units,
            "activation": self.activation_name,
            **initializer_config(self.kernel_initializer, self.bias_initializer),
            **super().get_config(),
        }
