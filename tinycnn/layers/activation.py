"""The ``activation="relu"`` shortcut of Keras, for Conv2D and Dense.

``Dense(128, activation="relu")`` means the same as ``Dense(128)`` followed by ``ReLU()``.
The layer keeps the activation object as ``layer.activation`` and calls its ``forward`` after
the affine map and its ``backward`` before the affine map's backward.
"""

from __future__ import annotations

from tinycnn.layers.base import Layer
from tinycnn.layers.relu import ReLU
from tinycnn.layers.softmax import Softmax

ACTIVATIONS: dict[str, type[Layer]] = {"relu": ReLU, "softmax": Softmax}


def get_activation(name: str | None) -> Layer | None:
    """Make the activation layer named ``name``.

    Parameters
    ----------
    name : str or None
        ``"relu"``, ``"softmax"``, or ``None`` / ``"linear"`` for no activation.

    Returns
    -------
    Layer or None
        A fresh ``ReLU()`` or ``Softmax()``, or ``None`` for the identity.

    Raises
    ------
    ValueError
        For any other name; the message lists the choices.
    """
    if name is None or name == "linear":
        return None
    if name not in ACTIVATIONS:
        choices = ", ".join(repr(n) for n in [*ACTIVATIONS, "linear", None])
        raise ValueError(f"unknown activation {name!r}; expected one of {choices}")
    return ACTIVATIONS[name]()
