"""Move Sequential models between tinycnn and Keras, weights included.

Train in one library and inspect in the other::

    from tinycnn.interop import from_keras, to_keras

    keras_model = to_keras(model)          # same layers, same weights, ready for predict()
    model = from_keras(keras_model)        # and back

Both libraries store activations as NHWC, conv kernels as ``(KH, KW, C, F)``, dense kernels as
``(D, units)``, and ``Flatten`` orders features ``(H, W, C)``. So the weights move with
``set_weights(get_weights())`` and nothing else: no transposes, no row permutations.

Supported layers (tinycnn name, Keras name): ``Conv2D``/``Conv2D``, ``MaxPool2D``/``MaxPooling2D``,
``Dense``/``Dense``, ``Flatten``/``Flatten``, ``ReLU``/``ReLU``, ``Softmax``/``Softmax``,
``Dropout``/``Dropout``, ``BatchNormalization``/``BatchNormalization`` (last axis, with its
moving statistics); from Keras also ``Activation("relu" | "softmax" | "linear")``.
Activations ``"relu"``, ``"softmax"`` and ``"linear"`` (none) are carried over, as are padding,
strides, pool sizes, the dropout rate and seed, layer names and the dtype (float32 or float64).
Anything else (another layer type, a dilation, ``use_bias=False``, a regulariser, ...) raises a
``ValueError`` that names the layers at fault.

TensorFlow is imported only inside these functions, so ``import tinycnn`` never pays for it
(about 7 s); it comes with the ``reference`` extra: ``pip install -e ".[reference]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinycnn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Softmax,
)
from tinycnn.layers.base import Layer
from tinycnn.model import Sequential

ACTIVATION_NAMES = ("relu", "softmax", "linear")


# -- TensorFlow, lazily ---------------------------------------------------------------------------
def _import_keras() -> Any:
    """Import Keras 3 (through TensorFlow) or explain how to install it."""
    try:
        import keras  # lazy on purpose: importing TensorFlow takes seconds
    except ImportError as exc:
        raise ImportError(
            'tinycnn.interop needs TensorFlow/Keras: pip install -e ".[reference]" '
            "(or pip install tensorflow-cpu)"
        ) from exc
    return keras


# -- tinycnn -> Keras ---------------------------------------------------------------------------
def _keras_kwargs(layer: Layer, dtype: str) -> dict[str, Any]:
    """Keras constructor arguments for a tinycnn layer: its config plus the dtype."""
    kwargs = dict(layer.get_config())
    kwargs.pop("fixed_mask", None)  # a gradient-check aid of tinycnn's Dropout, not a Keras idea
    kwargs.pop("kernel_initializer", None)  # the weights are copied: how they started is moot
    kwargs.pop("bias_initializer", None)
    kwargs["dtype"] = dtype
    if kwargs.get("name") is None:
        kwargs.pop("name", None)
    return kwargs


def _to_keras_layer(keras: Any, layer: Layer, dtype: str) -> Any:
    """The Keras twin of one tinycnn layer (weights are copied later, once it is built)."""
    kwargs = _keras_kwargs(layer, dtype)
    kind = type(layer).__name__
    makers: dict[str, Callable[..., Any]] = {
        "Conv2D": keras.layers.Conv2D,
        "MaxPool2D": keras.layers.MaxPooling2D,
        "Dense": keras.layers.Dense,
        "Flatten": keras.layers.Flatten,
        "ReLU": keras.layers.ReLU,
        "Softmax": keras.layers.Softmax,
        "Dropout": keras.layers.Dropout,
        "BatchNormalization": keras.layers.BatchNormalization,
    }
    if kind not in makers:
        raise ValueError(
            f"to_keras: unsupported layer {layer.describe()!r} ({kind}); supported: "
            f"{', '.join(makers)}"
        )
    return makers[kind](**kwargs)


def _strip_softmax(layers: list[Any], keras: Any) -> list[Any]:
    """Drop a final softmax (a Softmax layer, or the activation of the last layer)."""
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return layers[:-1]
    if getattr(last, "activation", None) is keras.activations.softmax:
        config = last.get_config()
        config["activation"] = "linear"
        return [*layers[:-1], type(last).from_config(config)]
    return layers


def _params_dtype(model: Sequential) -> str:
    """``"float32"`` or ``"float64"``: the dtype of the model's parameters."""
    for layer in model.layers:
        for param in layer.params.values():
            return str(param.dtype)
    return "float32"


def to_keras(model: Sequential, *, logits: bool = False) -> Any:
    """Build the Keras twin of a built tinycnn ``Sequential`` and copy its weights in.

    Parameters
    ----------
    model : Sequential
        A built model made of supported layers (see the module docstring).
    logits : bool
        If True, stop before a final softmax (a ``Softmax`` layer, or the ``"softmax"``
        activation of the last ``Dense``/``Conv2D``), like ``model.forward(x, logits=True)``.
        Pair it with ``SparseCategoricalCrossentropy(from_logits=True)``.

    Returns
    -------
    keras.Sequential
        Same layers, names, hyperparameters, dtype and weights; its layers and ``get_weights()``
        follow ``model.get_weights()`` one to one.

    Raises
    ------
    ValueError
        If the model is not built or holds a layer Keras cannot mirror (named in the message).
    """
    keras = _import_keras()
    if not model.layers or model.layers[0].input_shape is None:
        raise ValueError("to_keras: expected a built model with layers, got an unbuilt one")
    dtype = _params_dtype(model)
    keras_layers = [_to_keras_layer(keras, layer, dtype) for layer in model.layers]
    if logits:
        keras_layers = _strip_softmax(keras_layers, keras)
    inputs = keras.Input(shape=tuple(model.layers[0].input_shape), dtype=dtype)
    keras_model = keras.Sequential([inputs, *keras_layers])
    for layer, keras_layer in zip(model.layers, keras_layers, strict=False):
        if layer.params:
            keras_layer.set_weights(layer.get_weights())
    return keras_model


# -- Keras -> tinycnn ---------------------------------------------------------------------------
def _activation_name(config: dict[str, Any], where: str) -> str | None:
    """The activation of a Keras layer config as a tinycnn name, or a ValueError."""
    name = config.get("activation")
    if not isinstance(name, str) or name not in ACTIVATION_NAMES:
        raise ValueError(f"{where}: activation {name!r}, expected one of {ACTIVATION_NAMES}")
    return None if name == "linear" else name


def _expect(config: dict[str, Any], where: str, **expected: Any) -> None:
    """Raise a ValueError when a Keras option tinycnn does not model has a non-default value."""
    for key, want in expected.items():
        got = config.get(key, want)
        if isinstance(got, list):
            got = tuple(got)
        if got != want:
            raise ValueError(f"{where}: {key}={got!r} is not supported, expected {want!r}")


def _no_regularisers(config: dict[str, Any], where: str) -> None:
    """Conv2D/Dense: no regularisers, constraints, missing bias or channels-first layout."""
    regularisers = ["kernel_regularizer", "bias_regularizer", "activity_regularizer"]
    _expect(config, where, **dict.fromkeys([*regularisers, "kernel_constraint", "bias_constraint"]))
    _expect(config, where, use_bias=True, data_format="channels_last")


def _from_conv2d(config: dict[str, Any], where: str) -> Layer:
    """One ``_from_<kind>`` per Keras layer type: check unsupported options, make the twin."""
    _no_regularisers(config, where)
    _expect(config, where, dilation_rate=(1, 1), groups=1)
    return Conv2D(
        config["filters"],
        tuple(config["kernel_size"]),
        strides=tuple(config["strides"]),
        padding=config["padding"],
        activation=_activation_name(config, where),
        name=config["name"],
    )


def _from_dense(config: dict[str, Any], where: str) -> Layer:
    _no_regularisers(config, where)
    return Dense(config["units"], activation=_activation_name(config, where), name=config["name"])


def _from_maxpool(config: dict[str, Any], where: str) -> Layer:
    _expect(config, where, data_format="channels_last")
    return MaxPool2D(
        tuple(config["pool_size"]),
        strides=tuple(config["strides"]),
        padding=config["padding"],
        name=config["name"],
    )


def _from_flatten(config: dict[str, Any], where: str) -> Layer:
    _expect(config, where, data_format="channels_last")
    return Flatten(name=config["name"])


def _from_relu(config: dict[str, Any], where: str) -> Layer:
    _expect(config, where, max_value=None, negative_slope=0.0, threshold=0.0)
    return ReLU(name=config["name"])


def _from_softmax(config: dict[str, Any], where: str) -> Layer:
    _expect(config, where, axis=-1)
    return Softmax(name=config["name"])


def _from_dropout(config: dict[str, Any], where: str) -> Layer:
    _expect(config, where, noise_shape=None)
    return Dropout(config["rate"], seed=config.get("seed"), name=config["name"])


def _from_batchnorm(config: dict[str, Any], where: str) -> Layer:
    regularisers = ["beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"]
    _expect(config, where, axis=-1, center=True, scale=True, **dict.fromkeys(regularisers))
    _expect(config, where, synchronized=False, renorm=False)
    return BatchNormalization(config["momentum"], config["epsilon"], name=config["name"])


def _from_activation(config: dict[str, Any], where: str) -> Layer | None:
    """Keras ``Activation``: ReLU, Softmax, or nothing at all for ``"linear"``."""
    name = _activation_name(config, where)
    if name is None:
        return None
    return ReLU(name=config["name"]) if name == "relu" else Softmax(name=config["name"])


FROM_KERAS: dict[str, Callable[[dict[str, Any], str], Layer | None]] = {
    "Conv2D": _from_conv2d,
    "Dense": _from_dense,
    "MaxPooling2D": _from_maxpool,
    "Flatten": _from_flatten,
    "ReLU": _from_relu,
    "Softmax": _from_softmax,
    "Dropout": _from_dropout,
    "BatchNormalization": _from_batchnorm,
    "Activation": _from_activation,
}


def _tinycnn_layers(keras_model: Any) -> list[tuple[Any, Layer | None]]:
    """Pair each Keras layer with its tinycnn twin; one ValueError names every unsupported one."""
    unsupported = [
        f"{kl.name!r} ({type(kl).__name__})"
        for kl in keras_model.layers
        if type(kl).__name__ not in FROM_KERAS
    ]
    if unsupported:
        raise ValueError(
            f"from_keras: unsupported layer(s) {', '.join(unsupported)}; supported Keras layers: "
            f"{', '.join(FROM_KERAS)}"
        )
    pairs = []
    for kl in keras_model.layers:
        where = f"from_keras: layer {kl.name!r} ({type(kl).__name__})"
        pairs.append((kl, FROM_KERAS[type(kl).__name__](kl.get_config(), where)))
    return pairs


def from_keras(keras_model: Any) -> Sequential:
    """Build the tinycnn twin of a Keras ``Sequential`` model and copy its weights in.

    Parameters
    ----------
    keras_model : keras.Sequential
        A built Sequential model (it knows its input shape, e.g. it starts with
        ``keras.Input(shape)``) made of supported layers (see the module docstring).

    Returns
    -------
    Sequential
        A built tinycnn model with the same layers, names, hyperparameters, dtype and weights.
        A Keras ``Activation("linear")`` layer has no twin and is left out.

    Raises
    ------
    ValueError
        If ``keras_model`` is not a built ``keras.Sequential`` or holds unsupported layers or
        options (all unsupported layers are named in one message).
    """
    keras = _import_keras()
    if not isinstance(keras_model, keras.Sequential):
        raise ValueError(
            f"from_keras: expected a keras.Sequential model, got {type(keras_model).__name__}"
        )
    if not keras_model.built or not keras_model.layers:
        raise ValueError("from_keras: expected a built keras.Sequential with layers")
    pairs = [(kl, layer) for kl, layer in _tinycnn_layers(keras_model) if layer is not None]
    input_shape = tuple(int(d) for d in keras_model.input_shape[1:])
    model = Sequential([layer for _, layer in pairs], input_shape=input_shape)
    if not model.layers[0].built:
        model.build(input_shape)
    dtypes = {np.asarray(w).dtype for w in keras_model.get_weights()}
    if dtypes == {np.dtype(np.float64)}:
        model.astype(np.float64)
    for keras_layer, layer in pairs:
        if layer.params:
            layer.set_weights(keras_layer.get_weights())
    return model
