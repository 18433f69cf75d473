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

import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Shape = tuple[int, ...]

# Layer names reach file names, JSON, log lines and the draw-a-digit page: letters, digits and
# ``_ . -`` only (Keras's own names fit), so a name can never carry markup or a path.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
# The largest weight magnitude accepted from a file or set_weights. Training on inputs in [0, 1]
# makes weights of magnitude below 100 (a BatchNormalization variance of a few thousand); 1e10
# is far above, and far below where float32 activations overflow after a layer or two.
MAX_WEIGHT = 1e10
# The most weights one layer may allocate (1 GiB of float32): Dense(10**9) is a clear error.
MAX_LAYER_WEIGHTS = 2**28


def check_name(name: Any) -> str | None:
    """Return ``name`` if it is None or a safe layer name, else raise ValueError."""
    if name is None:
        return None
    if not isinstance(name, str) or SAFE_NAME.fullmatch(name) is None:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise ValueError(
            f"layer name {shown} is not allowed; expected 1 to 64 characters from "
            "A-Z a-z 0-9 _ . - (not starting with . or -)"
        )
    return name


class Layer:
    """Base class: parameters, gradients, building, weights in Keras order.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable tensors, in Keras's ``get_weights`` order (e.g. ``{"w": ..., "b": ...}``).
    grads : dict of str to ndarray
        ∂loss/∂param for each key of ``params``, same shapes, written by ``backward``.
    state : dict of str to ndarray
        Non-trainable tensors that ``forward(training=True)`` updates itself (BatchNormalization's
        moving statistics). No gradients, never touched by an optimizer; saved, counted and copied
        with the weights, after ``params`` (Keras's ``non_trainable_weights``).
    input_shape : tuple of int or None
        Shape of one example (no batch axis), set by ``build``.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = check_name(name)
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.state: dict[str, Array] = {}
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

    def weight_shapes(self, input_shape: Shape) -> list[Shape]:
        """The shapes of ``get_weights`` after ``build(input_shape)``.

        Layers with weights compute them without allocating (Conv2D, Dense, ...). This default
        builds a fresh copy of the layer (for a layer of your own: ``load_model`` asks it for
        the shapes it must find in a file).
        """
        probe = type(self)(**self.get_config())
        probe.build(tuple(input_shape), np.random.default_rng(0))
        return [w.shape for w in (*probe.params.values(), *probe.state.values())]

    def check_size(self, shapes: list[Shape]) -> None:
        """Refuse to allocate more than ``MAX_LAYER_WEIGHTS`` weights (before ``build`` does)."""
        total = sum(int(np.prod(shape, dtype=object)) for shape in shapes)
        if total > MAX_LAYER_WEIGHTS:
            raise ValueError(
                f"{self.describe()}: {type(self).__name__} on inputs {self.input_shape} needs "
                f"{total:,} weights ({4 * total / 2**30:,.1f} GiB of float32), over the limit of "
                f"{MAX_LAYER_WEIGHTS:,}; use fewer units or filters"
            )

    # -- computing ------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Compute the layer's output; remember what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, dout: Array) -> Array:
        """Given ∂loss/∂out, fill ``grads`` and return ∂loss/∂x."""
        raise NotImplementedError

    # -- weights and configuration --------------------------------------------------------
    def count_params(self) -> int:
        """Number of scalar weights, trainable and not (Keras's ``count_params``)."""
        return self.count_trainable_params() + int(sum(s.size for s in self.state.values()))

    def count_trainable_params(self) -> int:
        """Number of scalar trainable parameters (those in ``params``)."""
        return int(sum(p.size for p in self.params.values()))

    def weight_names(self) -> list[str]:
        """Keys of ``get_weights``' arrays: ``params`` then ``state``."""
        return [*self.params, *self.state]

    def get_weights(self) -> list[Array]:
        """Copies of the weights in Keras's order and shapes: parameters (kernel, then bias),
        then non-trainable state."""
        return [w.copy() for w in (*self.params.values(), *self.state.values())]

    def check_weights(self, weights: list[Array]) -> None:
        """Refuse what ``set_weights`` must not take: a wrong count or shape, a value that is
        not a real number, NaN, infinite or over ``MAX_WEIGHT`` in size."""
        names = self.weight_names()
        if len(weights) != len(names):
            raise ValueError(
                f"{self.describe()}: expected {len(names)} weight arrays "
                f"({', '.join(names)}), got {len(weights)}"
            )
        current = [*self.params.values(), *self.state.values()]
        for key, old, new in zip(names, current, weights, strict=True):
            if np.shape(new) != old.shape:
                raise ValueError(
                    f"{self.describe()}: weight {key!r} expected shape {old.shape}, "
                    f"got {np.shape(new)}"
                )
            self.check_weight(key, np.asarray(new))

    def check_weight(self, key: str, w: np.ndarray) -> None:
        """One weight array: real numbers, finite, of magnitude at most ``MAX_WEIGHT``."""
        if w.dtype.kind not in "iuf":
            raise ValueError(f"{self.describe()}: weight {key!r} has dtype {w.dtype}, not real")
        if not np.isfinite(w).all():
            raise ValueError(f"{self.describe()}: weight {key!r} holds NaN or infinite values")
        if w.size and np.abs(w).max() > MAX_WEIGHT:
            raise ValueError(
                f"{self.describe()}: weight {key!r} holds {float(np.abs(w).max()):g}; weights "
                f"must be at most {MAX_WEIGHT:g} in size (damaged weights?)"
            )

    def set_weights(self, weights: list[Array]) -> None:
        """Load weights given in Keras's order and shapes; checked by ``check_weights`` first,
        so a refusal changes nothing."""
        self.check_weights(weights)
        names = self.weight_names()
        current = [*self.params.values(), *self.state.values()]
        for key, old, new in zip(names, current, weights, strict=True):
            if key in self.params:
                self.params[key] = np.asarray(new).astype(old.dtype, copy=True)
                self.grads[key] = np.zeros_like(self.params[key])
            else:
                self.state[key] = np.asarray(new).astype(old.dtype, copy=True)

    def astype(self, dtype: type | np.dtype) -> Layer:
        """Cast parameters, gradients and state to ``dtype`` in place (float64 for gradient
        checks)."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])
        for key in self.state:
            self.state[key] = self.state[key].astype(dtype)
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
