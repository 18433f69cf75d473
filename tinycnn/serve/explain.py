"""Where one feature-map value comes from: the explain endpoint's work, without HTTP.

Request (``POST /api/explain``): the prediction request (see :mod:`tinycnn.serve.api`) plus
which value to explain::

    {"width": W, "height": H, "pixels": [...],
     "layer": k,      # the k-th Conv2D layer of the model (0 = the first)
     "channel": f, "row": i, "col": j}

Answer, computed from the model's own weights and the layer's own forward input::

    {"layer": "conv2d_1", "channel": f, "row": i, "col": j,
     "filter":   [C][KH][KW],  # w[:, :, c, f] for each input channel c
     "window":   [C][KH][KW],  # x_pad[S*i + p, S*j + q, c]: what the filter lies on
     "products": [C][KH][KW],  # window * filter, one multiply per number
     "channel_sums": [C], "bias": b[f],
     "z": sum of all products + bias, "activation": "relu" or null,
     "value": the feature-map value out[i, j, f] (the activation of z),
     "receptive_field": {"top": r0, "left": c0, "bottom": r1, "right": c1}}

so that ``value = activation(Σ_pqc x_pad[S*i+p, S*j+q, c] * w[p, q, c, f] + b[f])``, the
layer's forward formula for one output. The receptive field is the block of the 28x28 input
(inclusive bounds, clipped to the image) that can change this value, found by walking back
through every window-based layer before it: an output span ``[a, b]`` of a layer with window
``K``, stride ``S`` and leading padding ``P`` reads the input span ``[a*S - P, b*S - P + K - 1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tinycnn.kernels.geometry import pad_amounts, pad_input
from tinycnn.layers import Conv2D, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.serve.api import (
    RequestError,
    canvas_of,
    conv_layers,
    decode,
    model_dtype,
    network_input,
)


def parse_target(request: dict[str, Any], model: Sequential) -> tuple[int, int, int, int]:
    """The checked ``(layer, channel, row, col)`` of a decoded explain request.

    Raises
    ------
    RequestError
        400 when a field is missing or not an integer, 422 when it is out of range for the model.
    """
    values = []
    for key in ("layer", "channel", "row", "col"):
        value = request.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestError(400, f"{key} must be an integer, got {type(value).__name__}")
        values.append(value)
    k, f, i, j = values
    convs = conv_layers(model)
    if not 0 <= k < len(convs):
        raise RequestError(422, f"layer must be in 0..{len(convs) - 1}, got {k}")
    OH, OW, F = _output_shape(model, convs[k])
    for key, value, size in (("channel", f, F), ("row", i, OH), ("col", j, OW)):
        if not 0 <= value < size:
            raise RequestError(422, f"{key} must be in 0..{size - 1}, got {value}")
    return k, f, i, j


def explain(model: Sequential, body: bytes) -> dict[str, Any]:
    """Decode an explain request and answer it (see the module docstring)."""
    request = decode(body)
    grey = canvas_of(request)
    k, f, i, j = parse_target(request, model)
    x = network_input(grey).astype(model_dtype(model))[np.newaxis]  # (1, 28, 28, 1)
    return explain_value(model, x, k, f, i, j)


def explain_value(
    model: Sequential, x: NDArray[Any], k: int, f: int, i: int, j: int
) -> dict[str, Any]:
    """The multiply-adds behind ``out[0, i, j, f]`` of the model's ``k``-th Conv2D layer.

    Parameters
    ----------
    model : Sequential
        Built.
    x : ndarray, shape (1, 28, 28, 1)
        The network input.
    k, f, i, j : int
        Conv layer index (among the Conv2D layers), output channel, row and column.
    """
    conv = conv_layers(model)[k]
    layer_input, out = x, x
    for layer in model.layers:
        layer_input = out  # (1, H, W, C)
        out = layer.forward(out, training=False)
        if layer is conv:
            break
    w, b = conv.params["w"], conv.params["b"]  # (KH, KW, C, F), (F,)
    KH, KW, C, _ = w.shape
    SH, SW = conv.strides
    x_pad = pad_input(layer_input, KH, KW, conv.strides, conv.padding)[0]  # (H+P, W+P, C)
    window = x_pad[SH * i : SH * i + KH, SW * j : SW * j + KW, :].astype(np.float64)
    kernel = w[:, :, :, f].astype(np.float64)  # (KH, KW, C)
    products = window * kernel  # (KH, KW, C)
    z = float(products.sum() + b[f])
    channel_first = (2, 0, 1)  # (KH, KW, C) -> (C, KH, KW): one small grid per input channel
    return {
        "layer": conv.describe(),
        "channel": f,
        "row": i,
        "col": j,
        "filter": np.transpose(kernel, channel_first).tolist(),
        "window": np.transpose(window, channel_first).tolist(),
        "products": np.transpose(products, channel_first).tolist(),
        "channel_sums": products.sum(axis=(0, 1)).tolist(),
        "bias": float(b[f]),
        "z": z,
        "activation": None if conv.activation is None else type(conv.activation).__name__.lower(),
        "value": float(out[0, i, j, f]),
        "receptive_field": receptive_field(model, conv, i, j),
    }


def receptive_field(model: Sequential, target: Any, i: int, j: int) -> dict[str, int]:
    """The input pixels that can change ``target``'s output at ``(i, j)``, as inclusive bounds.

    Walks back from ``target`` through the layers before it; a layer without a window (ReLU,
    Dropout, ...) keeps the span as it is. Bounds are clipped to the model's input.
    """
    chain = model.layers[: model.layers.index(target) + 1]
    shapes = [model.built_input_shape()]
    for layer in chain[:-1]:
        shapes.append(tuple(layer.output_shape(shapes[-1])))
    (top, bottom), (left, right) = (i, i), (j, j)
    for layer, shape in zip(reversed(chain), reversed(shapes), strict=True):
        if not isinstance(layer, (Conv2D, MaxPool2D)):  # ReLU, Flatten...: the same span
            continue
        K = layer.kernel_size if isinstance(layer, Conv2D) else layer.pool_size
        S = layer.strides
        pads = pad_amounts_of(layer, shape, K, S)
        top, bottom = top * S[0] - pads[0], bottom * S[0] - pads[0] + K[0] - 1
        left, right = left * S[1] - pads[1], right * S[1] - pads[1] + K[1] - 1
    H, W = model.built_input_shape()[0], model.built_input_shape()[1]
    return {
        "top": max(top, 0),
        "left": max(left, 0),
        "bottom": min(bottom, H - 1),
        "right": min(right, W - 1),
    }


def pad_amounts_of(layer: Any, shape: tuple[int, ...], K: Any, S: Any) -> tuple[int, int]:
    """The (top, left) zero rows/columns a window layer adds to an input of ``shape``."""
    (top, _), (left, _) = pad_amounts((1, *shape), K[0], K[1], S, layer.padding)
    return top, left


def _output_shape(model: Sequential, target: Any) -> tuple[int, int, int]:
    shape = model.built_input_shape()
    for layer in model.layers:
        shape = tuple(layer.output_shape(shape))
        if layer is target:
            break
    OH, OW, F = shape
    return OH, OW, F
