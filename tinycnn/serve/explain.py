"""Where one value of the network comes from: the explain endpoint's work, without HTTP.

Request (``POST /api/explain``): the prediction request (see :mod:`tinycnn.serve.api`) plus
which value to explain, by ``kind`` (``"conv"`` when absent)::

    {"width": W, "height": H, "pixels": [...],
     "kind": "conv",  # or "pool": a value of the k-th Conv2D (MaxPool2D) layer
     "layer": k,      # 0 = the first layer of that kind
     "channel": f, "row": i, "col": j}
    {..., "kind": "dense", "layer": k, "unit": u}    # unit u of the k-th Dense layer
    {..., "kind": "class", "class": k}               # the probability of class k

A pooled value answers with its window of the layer's input, which cell won (the first
maximum in row-major order, as ``MaxPool2D`` picks it) and the receptive field
(:func:`explain_pool`); a dense unit with its inputs' largest contributions ``x[d] * w[d, u]``
(:func:`explain_dense`); a class with ``p_k = exp(z_k - m) / Σ_j exp(z_j - m)``, ``m = max z``,
every number given (:func:`explain_class`).

A conv value's answer, computed from the model's own weights and the layer's own forward input::

    {"kind": "conv", "layer": "conv2d_1", "channel": f, "row": i, "col": j,
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

KINDS = {"conv": "Conv2D", "pool": "MaxPool2D", "dense": "Dense"}


def integer(request: dict[str, Any], key: str, low: int, high: int) -> int:
    """``request[key]`` checked to be an integer in ``low..high``.

    Raises
    ------
    RequestError
        400 when the field is missing or not an integer, 422 when it is out of range.
    """
    value = request.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{key} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise RequestError(422, f"{key} must be in {low}..{high}, got {value}")
    return value


def layers_of_kind(model: Sequential, kind: str) -> list[Any]:
    """The model's layers of one explain kind, in order; a clear 422 when it has none."""
    found = [layer for layer in model.layers if type(layer).__name__ == KINDS[kind]]
    if not found:
        raise RequestError(422, f"this model has no {KINDS[kind]} layer to explain")
    return found


def parse_target(request: dict[str, Any], model: Sequential) -> tuple[int, int, int, int]:
    """The checked ``(layer, channel, row, col)`` of a conv or pool explain request.

    Raises
    ------
    RequestError
        400 when a field is missing or not an integer, 422 when it is out of range for the model.
    """
    kind = request.get("kind", "conv")
    found = layers_of_kind(model, kind)
    k = integer(request, "layer", 0, len(found) - 1)
    OH, OW, F = _output_shape(model, found[k])
    f = integer(request, "channel", 0, F - 1)
    return k, f, integer(request, "row", 0, OH - 1), integer(request, "col", 0, OW - 1)


def explain(model: Sequential, body: bytes) -> dict[str, Any]:
    """Decode an explain request and answer it (see the module docstring)."""
    request = decode(body)
    grey = canvas_of(request)
    kind = request.get("kind", "conv")
    if kind not in ("conv", "pool", "dense", "class"):
        raise RequestError(422, f"kind must be conv, pool, dense or class, got {str(kind)[:20]!r}")
    target: tuple[int, ...]
    if kind in ("conv", "pool"):
        target = parse_target(request, model)
    elif kind == "dense":
        dense = layers_of_kind(model, "dense")
        k = integer(request, "layer", 0, len(dense) - 1)
        target = (k, integer(request, "unit", 0, dense[k].units - 1))
    else:
        target = (integer(request, "class", 0, int(model.output_shapes[-1][-1]) - 1),)
    x = network_input(grey).astype(model_dtype(model))[np.newaxis]  # (1, 28, 28, 1)
    explainer: dict[str, Any] = {
        "conv": explain_value,
        "pool": explain_pool,
        "dense": explain_dense,
    }
    return explainer.get(kind, explain_class)(model, x, *target)


def run_to(model: Sequential, target: Any, x: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """``target``'s input and output for the network input ``x``, in inference mode."""
    layer_input, out = x, x
    for layer in model.layers:
        layer_input = out
        out = layer.forward(out, training=False)
        if layer is target:
            break
    return layer_input, out


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
    layer_input, out = run_to(model, conv, x)  # (1, H, W, C), (1, OH, OW, F)
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
        "kind": "conv",
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


def explain_pool(
    model: Sequential, x: NDArray[Any], k: int, f: int, i: int, j: int
) -> dict[str, Any]:
    """Which input won ``out[0, i, j, f]`` of the model's ``k``-th MaxPool2D layer.

    Returns ``{"kind": "pool", "layer", "channel", "row", "col", "window": [KH][KW]`` (the
    layer's input under the window, null for padding), ``"winner": [p, q]`` (the first maximum
    in row-major order), ``"value"``, ``"source": {"layer", "row", "col"}`` (the winner's place
    in the map below) and ``"receptive_field"}``.
    """
    pool = layers_of_kind(model, "pool")[k]
    layer_input, out = run_to(model, pool, x)  # (1, H, W, C), (1, OH, OW, C)
    (KH, KW), (SH, SW) = pool.pool_size, pool.strides
    H, W = layer_input.shape[1:3]
    top, left = pad_amounts_of(pool, layer_input.shape[1:], pool.pool_size, pool.strides)
    rows = [SH * i + p - top for p in range(KH)]
    cols = [SW * j + q - left for q in range(KW)]
    window = [
        [float(layer_input[0, r, c, f]) if 0 <= r < H and 0 <= c < W else None for c in cols]
        for r in rows
    ]
    flat = [v if v is not None else -np.inf for row in window for v in row]
    p, q = divmod(int(np.argmax(flat)), KW)  # np.argmax: the first maximum wins, as in forward
    below = model.layers[model.layers.index(pool) - 1] if model.layers.index(pool) else None
    return {
        "kind": "pool",
        "layer": pool.describe(),
        "channel": f,
        "row": i,
        "col": j,
        "window": window,
        "winner": [p, q],
        "value": float(out[0, i, j, f]),
        "source": {
            "layer": "input" if below is None else below.describe(),
            "row": rows[p],
            "col": cols[q],
        },
        "receptive_field": receptive_field(model, pool, i, j),
    }


TOP_CONTRIBUTIONS = 8


def explain_dense(model: Sequential, x: NDArray[Any], k: int, u: int) -> dict[str, Any]:
    """The largest contributions ``x[d] * w[d, u]`` to unit ``u`` of the ``k``-th Dense layer.

    ``z = Σ_d x[d] * w[d, u] + b[u]`` and ``value = activation(z)`` (for the last layer, the
    class score before the softmax). ``"top"`` lists the ``TOP_CONTRIBUTIONS`` products largest
    in size, each with ``"input"`` d, ``"x"``, ``"w"``, ``"product"`` and, when the input came
    through Flatten from maps of shape (H, W, C), ``"source": [h, w, c]`` (map c at row h,
    column w: Flatten orders features h, then w, then c); ``"rest"`` is the sum of the others.
    """
    dense = layers_of_kind(model, "dense")[k]
    layer_input, _ = run_to(model, dense, x)  # (1, D)
    maps_shape = _flattened_from(model, dense)
    inputs = layer_input[0].astype(np.float64)  # (D,)
    w, b = dense.params["w"][:, u].astype(np.float64), float(dense.params["b"][u])
    products = inputs * w  # (D,)
    top = np.argsort(-np.abs(products), kind="stable")[:TOP_CONTRIBUTIONS]
    z = float(products.sum() + b)
    is_last = dense is model.layers[-1]
    activation = None if is_last else getattr(dense, "activation", None)
    value = float(dense.forward(layer_input, training=False, apply_activation=not is_last)[0, u])
    return {
        "kind": "dense",
        "layer": dense.describe(),
        "unit": u,
        "inputs": int(inputs.size),
        "from": _fed_by(model, dense),
        "top": [
            {
                "input": int(d),
                "x": float(inputs[d]),
                "w": float(w[d]),
                "product": float(products[d]),
                "source": None if maps_shape is None else _unravel(int(d), maps_shape),
            }
            for d in top
        ],
        "total": float(products.sum()),
        "rest": float(products.sum() - products[top].sum()),
        "bias": b,
        "z": z,
        "activation": None if activation is None else type(activation).__name__.lower(),
        "value": value,
        "score": is_last,
    }


def explain_class(model: Sequential, x: NDArray[Any], k: int) -> dict[str, Any]:
    """``p_k = exp(z_k - m) / Σ_j exp(z_j - m)`` with every number: the scores (logits) z,
    ``m = max z`` (subtracting it changes no probability and keeps exp from overflowing),
    ``exp(z_j - m)``, their sum and ``p_k``."""
    z = np.asarray(model.forward(x, training=False, logits=True))[0].astype(np.float64)  # (K,)
    m = float(z.max())
    e = np.exp(z - m)  # (K,)
    return {
        "kind": "class",
        "class": k,
        "logits": z.tolist(),
        "shift": m,
        "exp": e.tolist(),
        "sum": float(e.sum()),
        "probability": float(e[k] / e.sum()),
    }


def _flattened_from(model: Sequential, dense: Any) -> tuple[int, int, int] | None:
    """The (H, W, C) maps a Flatten right before ``dense`` flattened, else None."""
    n = model.layers.index(dense)
    if n == 0 or type(model.layers[n - 1]).__name__ != "Flatten":
        return None
    shape = model.built_input_shape() if n == 1 else model.output_shapes[n - 2]
    return (int(shape[0]), int(shape[1]), int(shape[2])) if len(shape) == 3 else None


def _fed_by(model: Sequential, layer: Any) -> str:
    """The name of the layer whose values ``layer`` reads (past Flatten and Dropout)."""
    for below in reversed(model.layers[: model.layers.index(layer)]):
        if type(below).__name__ not in ("Flatten", "Dropout"):
            return str(below.describe())
    return "input"


def _unravel(d: int, shape: tuple[int, int, int]) -> list[int]:
    return [int(v) for v in np.unravel_index(d, shape)]
