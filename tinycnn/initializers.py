"""Initializers: the random numbers a layer's kernel and bias start from.

A kernel of shape (D, units) (Dense) or (KH, KW, C, F) (Conv2D) feeds each output unit from
``fan_in`` inputs (``D`` or ``KH*KW*C``) and feeds each input to ``fan_out`` outputs (``units`` or
``KH*KW*F``). The schemes keep the variance of activations roughly constant from layer to layer:

==================  ==========================================  ==================================
name                distribution                                known as
==================  ==========================================  ==================================
``glorot_uniform``  ``U(-L, L)``, ``L = sqrt(6 / (fan_in + fan_out))``  Keras's default kernel
``he_uniform``      ``U(-L, L)``, ``L = sqrt(6 / fan_in)``              for ReLU networks
``fan_in_uniform``  ``U(-L, L)``, ``L = 1 / sqrt(fan_in)``               PyTorch's default kernel
                                                                          *and* bias
``zeros``           all zero                                              Keras's default bias
==================  ==========================================  ==================================

Every initializer is a function ``init(shape, fan_in, fan_out, rng) -> float32 array``; a layer
takes its name (``Dense(128, kernel_initializer="he_uniform")``) or such a function.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "INITIALIZERS",
    "fan_in_uniform",
    "get_initializer",
    "glorot_uniform",
    "he_uniform",
    "initializer_config",
    "zeros",
]

Shape = tuple[int, ...]
Initializer = Callable[[Shape, int, int, np.random.Generator], NDArray[np.float32]]


def _uniform(shape: Shape, limit: float, rng: np.random.Generator) -> NDArray[np.float32]:
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def glorot_uniform(
    shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Glorot (Xavier) uniform, Keras's default kernel: ``U(-L, L)``,
    ``L = sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the array to make.
    fan_in, fan_out : int
        Inputs feeding one output unit, and outputs fed by one input unit (for a conv kernel
        (KH, KW, C, F): ``KH*KW*C`` and ``KH*KW*F``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    w : ndarray, float32, shape ``shape``
    """
    return _uniform(shape, np.sqrt(6.0 / (fan_in + fan_out)), rng)


def he_uniform(
    shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """He (Kaiming) uniform: ``U(-L, L)``, ``L = sqrt(6 / fan_in)``; variance ``2 / fan_in``,
    which makes up for ReLU zeroing half of its inputs. Arguments as :func:`glorot_uniform`."""
    return _uniform(shape, np.sqrt(6.0 / fan_in), rng)


def fan_in_uniform(
    shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """PyTorch's default for ``nn.Linear`` and ``nn.Conv2d`` weights and biases:
    ``U(-L, L)``, ``L = 1 / sqrt(fan_in)`` (variance ``1 / (3 fan_in)``). Arguments as
    :func:`glorot_uniform`."""
    return _uniform(shape, 1.0 / np.sqrt(fan_in), rng)


def zeros(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """All zeros (Keras's default bias); draws nothing from ``rng``."""
    return np.zeros(shape, dtype=np.float32)


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "he_uniform": he_uniform,
    "fan_in_uniform": fan_in_uniform,
    "zeros": zeros,
}


def get_initializer(initializer: str | Initializer) -> Initializer:
    """The initializer called ``initializer`` (see the table above), or the function itself.

    Raises
    ------
    ValueError
        For an unknown name or something that is neither a name nor callable.
    """
    if callable(initializer):
        return initializer
    if isinstance(initializer, str) and initializer in INITIALIZERS:
        return INITIALIZERS[initializer]
    raise ValueError(
        f"expected an initializer name in {sorted(INITIALIZERS)} or a function "
        f"init(shape, fan_in, fan_out, rng), got {initializer!r}"
    )


def initializer_config(kernel: str | Initializer, bias: str | Initializer) -> dict[str, str]:
    """A layer's ``get_config`` entries for its initializers: the names that differ from the
    defaults (``glorot_uniform``, ``zeros``). A custom function is left out: it matters only
    before training, and a model file holds the weights themselves."""
    config = {}
    if isinstance(kernel, str) and kernel != "glorot_uniform":
        config["kernel_initializer"] = kernel
    if isinstance(bias, str) and bias != "zeros":
        config["bias_initializer"] = bias
    return config
