"""The ``activation="relu"`` shortcut of Keras, for Conv2D and Dense: :class:`ActivatedLayer`.

``Dense(128, activation="relu")`` means the same as ``Dense(128)`` followed by ``ReLU()``.
The layer keeps the activation object as ``layer.activation`` and calls its ``forward`` after
the affine map and its ``backward`` before the affine map's backward. ``forward(...,
apply_activation=False)`` stops before the activation: ``Sequential.forward(..., logits=True)``
asks for that from a last layer whose activation is a softmax, because the fused loss takes
logits.
"""

from __future__ import annotations

from tinycnn.layers.base import Array, Layer
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


class ActivatedLayer(Layer):
    """Base of the layers with Keras's ``activation=`` shortcut (Conv2D, Dense).

    Parameters
    ----------
    activation : {None, "linear", "relu", "softmax"}
        Kept as ``activation_name``; the layer made from it is ``activation`` (None: identity).
    name : str, optional
    """

    def __init__(self, activation: str | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.activation_name = activation
        self.activation = get_activation(activation)

    def forward(self, x: Array, training: bool = False, apply_activation: bool = True) -> Array:
        """The affine map, then (unless ``apply_activation`` is False) the activation;
        ``backward`` then skips the activation too."""
        raise NotImplementedError
