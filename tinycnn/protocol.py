"""What the training loop needs of a model: the :class:`Model` protocol.

``tinycnn.training.loop`` and its helpers work with any object that has these methods, which
:class:`tinycnn.Sequential` has. Typing against a protocol instead of the class keeps the
training room independent of ``tinycnn.model`` (the model imports the loop, not the reverse).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from tinycnn.layers.base import Array, Layer
from tinycnn.runtime import Runtime


class Model(Protocol):
    """A compiled model as ``fit``, ``evaluate`` and ``predict`` use it."""

    layers: list[Layer]
    optimizer: Any
    loss: Any
    stop_training: bool

    def forward(self, x: Array, training: bool = False, logits: bool = False) -> Array: ...

    def backward(self, dout: Array) -> Array | None: ...

    def params_and_grads(self) -> list[tuple[str, Array, Array]]: ...

    def get_weights(self) -> list[Array]: ...

    def set_weights(self, weights: list[Array]) -> None: ...

    def weight_names(self) -> list[str]: ...

    def get_config(self) -> dict[str, Any]: ...

    def describe_runtime(self) -> str: ...

    @property
    def runtime(self) -> Runtime: ...


def model_dtype(model: Model) -> np.dtype:
    """The dtype of the model's parameters (float32 unless cast), which inputs are cast to."""
    params = model.params_and_grads()
    return params[0][1].dtype if params else np.dtype(np.float32)
