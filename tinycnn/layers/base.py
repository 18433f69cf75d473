"""The layer protocol every tinycnn layer follows.

A layer is a function ``out = f(x; params)`` together with its vector-Jacobian product
``dx = backward(dout)``, which also fills ``grads`` with ∂loss/∂param for each parameter.

Life cycle::

    layer = Conv2D(32, 3)               # __init__ stores hyperparameters only
    layer.build((28, 28, 1), rng)       # shape-dependent arrays (weights) are made here
    out = layer.forward(x, training)    # keeps what backward needs in self._cache
    dx = layer.backward(dout)           # overwrites self.grads (no accumulation)

Shapes exclude the batch axis in ``build`` and ``output_shape`` (Keras's convention):
``input_shape = (H, W, C)`` for images, ``(D,)`` for vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Shape = tuple[int, ...]


class Layer:
    """Base class: parameters, gradients, building, weights in Keras order.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable tensors, in Keras's ``get_weights`` order (e.g. ``{"w": ..., "b": ...}``).
    grads : dict of str to ndarray
        ∂loss/∂param for each key of ``params``, same shapes, written by ``backward``.
    input_shape : tuple of int or None
        Shape of one example (no batch axis), set by ``build``.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.input_shape: Shape | None = None
        self.built = False
        self._cache: Any = None

    # -- building -------------------------------------------------------------------------
    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Create shape-dependent arrays for inputs of ``input_shape`` (no batch axis)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.built = True

    def output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one output example for one input example of ``input_shape``."""
        return tuple(input_shape)

    # -- computing ------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Compute the layer's output; remember what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, dout: Array) -> Array:
        """Given ∂loss/∂out, fill ``grads`` and return ∂loss/∂x."""
        raise NotImplementedError

    # -- weights and configuration --------------------------------------------------------
    def count_params(self) -> int:
        """Number of scalar trainable parameters."""
        return int(sum(p.size for p in self.params.values()))

    def get_weights(self) -> list[Array]:
        """Copies of the parameters in Keras's order and shapes (kernel, then bias)."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights: list[Array]) -> None:
        """Load parameters given in Keras's order and shapes; shapes are checked."""
        if len(weights) != len(self.params):
            raise ValueError(
                f"{self.describe()}: expected {len(self.params)} weight arrays "
                f"({', '.join(self.params)}), got {len(weights)}"
            )
        for (key, current), new in zip(self.params.items(), weights, strict=True):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(
                    f"{self.describe()}: weight {key!r} expected shape {current.shape}, "
                    f"got {new.shape}"
                )
            self.params[key] = new.astype(current.dtype, copy=True)
            self.grads[key] = np.zeros_like(self.params[key])

    def astype(self, dtype: type | np.dtype) -> Layer:
        """Cast parameters and gradients to ``dtype`` in place (float64 for gradient checks)."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])
        return self

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this layer with ``type(layer)(**config)``."""
        return {"name": self.name} if self.name else {}

    def describe(self) -> str:
        """A short human name such as ``conv2d`` or the user's ``name``."""
        return self.name or type(self).__name__.lower()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
