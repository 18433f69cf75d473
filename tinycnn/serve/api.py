"""The prediction endpoint's work, without HTTP: check a request, run the model, build the answer.

Request (``POST /api/predict``, ``Content-Type: application/json``)::

    {"width": W, "height": H, "pixels": [H*W numbers in 0..255, row by row from the top]}

``pixels`` are the grey levels of the whole drawing canvas as the page has it (white ink on
black, or dark ink on light: the preprocessing decides). The server, not the page, turns them
into what the network sees, with :func:`tinycnn.data.pictures.mnist_style` (the same function as
``tinycnn predict``), so the picture on the page is exactly the network's input.

Answer::

    {"prediction": k, "probabilities": [K floats],
     "image": [784 ints 0..255],               # the 28x28 input, round(255 * x), row by row
     "layers": [                               # the whole network, one column per layer
        {"kind": "conv" or "pool", "layer": "conv2d", "index": i,   # i-th conv (or pool) layer
         "height": OH, "width": OW, "channels": F, "low": [F floats], "high": [F floats],
         "data": "<base64 of uint8, shape (F, OH, OW)>"},
        {"kind": "dense", "layer": "dense", "index": i, "activation": "relu" or null,
         "values": [U floats]},                 # the i-th Dense layer's output
        {"kind": "softmax", "layer": "dense_1", "logits": [K floats],
         "probabilities": [K floats]}]}

A conv map is its output after the activation (ReLU); Flatten and Dropout (the identity at
inference) get no column. Each map f is sent as ``round(255 * (v - low[f]) / (high[f] -
low[f]))`` with ``low = min(0, min v)`` and ``high = max v`` over that map (zeros when the map
is flat): one byte per value keeps a live update under ~50 kB for the seed CNN.

A canvas whose ink spans less than ``MIN_INK_EXTENT`` (15%) of its shorter side, a dot or a
click, gets a friendly 422 ("too little ink ...") instead of a confident prediction.

Every malformed request raises :class:`RequestError` carrying the HTTP status and a short message.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from tinycnn.data.pictures import mnist_style
from tinycnn.model import Sequential

MIN_SIDE = 8
MAX_SIDE = 1024
MAX_PIXELS = 512 * 512
INPUT_SHAPE = (28, 28, 1)
MIN_INK_EXTENT = 0.15


class RequestError(ValueError):
    """A request the server refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse_constant(name: str) -> float:
    raise RequestError(400, f"{name} is not a valid pixel value; send numbers in 0..255")


def parse_request(body: bytes) -> NDArray[np.float64]:
    """Decode and check a prediction request.

    Parameters
    ----------
    body : bytes
        The JSON request body (UTF-8).

    Returns
    -------
    grey : ndarray, shape (H, W), float64 in [0, 1]
        The canvas grey levels divided by 255.

    Raises
    ------
    RequestError
        400 for bad JSON, missing fields, wrong types, NaN/Infinity or values outside 0..255;
        422 for sizes out of range or a pixel count other than ``width * height``.
    """
    return canvas_of(decode(body))


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body (raises :class:`RequestError` 400 otherwise)."""
    try:
        request = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error.msg} at position {error.pos}") from None
    except RequestError:
        raise
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deep") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise RequestError(400, f"malformed JSON: {str(error)[:100]}") from None
    if not isinstance(request, dict):
        raise RequestError(400, "expected a JSON object with width, height and pixels")
    return request


def canvas_of(request: dict[str, Any]) -> NDArray[np.float64]:
    """The checked canvas of a decoded request, shape (H, W), float64 in [0, 1]."""
    missing = [key for key in ("width", "height", "pixels") if key not in request]
    if missing:
        raise RequestError(400, f"missing field(s): {', '.join(missing)}")
    H, W = _side(request, "height"), _side(request, "width")
    return _pixels(request["pixels"], H, W) / 255.0


def _side(request: dict[str, Any], key: str) -> int:
    value = request[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{key} must be an integer, got {type(value).__name__}")
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise RequestError(422, f"{key} must be in {MIN_SIDE}..{MAX_SIDE}, got {value}")
    return value


def _pixels(pixels: Any, H: int, W: int) -> NDArray[np.float64]:
    """The pixel list as an (H, W) float64 array, every value a finite number in 0..255."""
    if not isinstance(pixels, list):
        raise RequestError(400, f"pixels must be a list of numbers, got {type(pixels).__name__}")
    if H * W > MAX_PIXELS:
        raise RequestError(422, f"width * height must be at most {MAX_PIXELS}, got {H * W}")
    if len(pixels) != H * W:
        raise RequestError(422, f"expected width * height = {H * W} pixels, got {len(pixels)}")
    if not set(map(type, pixels)) <= {int, float}:  # type(v), not isinstance: no bool
        raise RequestError(400, "pixels must all be numbers (no strings, booleans, null, lists)")
    try:
        values = np.array(pixels, dtype=np.float64)
    except OverflowError:
        raise RequestError(400, "pixels must be in 0..255") from None
    if not np.isfinite(values).all():
        raise RequestError(400, "pixels must be finite numbers")
    if values.min() < 0 or values.max() > 255:
        raise RequestError(400, "pixels must be in 0..255")
    return values.reshape(H, W)


def check_model(model: Sequential) -> None:
    """Refuse a model the page cannot drive: its input must be one 28x28 grey image."""
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if shape != INPUT_SHAPE:
        raise ValueError(f"the model must take input of shape {INPUT_SHAPE}, got {shape}")


def predict(model: Sequential, grey: NDArray[np.float64]) -> dict[str, Any]:
    """Preprocess a canvas, run the model and build the JSON-ready answer.

    Parameters
    ----------
    model : Sequential
        Built, with input shape (28, 28, 1). Not thread-safe: callers serialise calls.
    grey : ndarray, shape (H, W)
        Canvas grey levels in [0, 1] (from :func:`parse_request`).

    Raises
    ------
    RequestError
        422 when the canvas holds no digit (blank, no ink distinct from the background, or
        too little ink: see :func:`ink_extent`).
    """
    image = network_input(grey)  # (28, 28, 1)
    x = image.astype(model_dtype(model))[np.newaxis]  # (1, 28, 28, 1)
    columns = network_columns(model, x)
    probabilities = columns[-1]["probabilities"]
    return {
        "prediction": int(np.argmax(probabilities)),
        "probabilities": probabilities,
        "image": to_bytes(image[..., 0]).ravel().tolist(),
        "layers": columns,
    }


def network_columns(model: Sequential, x: NDArray[Any]) -> list[dict[str, Any]]:
    """Every layer's output for one input, as the page's columns (see the module docstring).

    Parameters
    ----------
    model : Sequential
        Built, ending in a Dense layer (or a Softmax layer) that gives the K class scores.
    x : ndarray, shape (1, 28, 28, 1)
        The network input.
    """
    columns: list[dict[str, Any]] = []
    counts = {"conv": 0, "pool": 0, "dense": 0}
    out = x
    for n, layer in enumerate(model.layers):
        last = n == len(model.layers) - 1
        kind = layer_kind(layer)
        if last and kind == "dense":  # the class scores before the softmax, (1, K)
            out = layer.forward(out, training=False, apply_activation=False)  # type: ignore[call-arg]
        elif not last or kind != "softmax":
            out = layer.forward(out, training=False)
        if kind in ("conv", "pool"):
            column = {"kind": kind, **encode_maps(layer.describe(), out[0])}
        elif kind == "dense" and not last:
            column = {"kind": kind, "layer": layer.describe(), "activation": _activation(layer),
                      "values": [_finite(v) for v in out[0]]}  # fmt: skip
        else:
            continue
        columns.append({**column, "index": counts[kind]})
        counts[kind] += 1
    logits = out[0].astype(np.float64)  # (K,)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    columns.append(
        {
            "kind": "softmax",
            "layer": model.layers[-1].describe(),
            "logits": [_finite(v) for v in logits],
            "probabilities": [round(float(p), 6) for p in probabilities],
        }
    )
    return columns


def layer_kind(layer: Any) -> str:
    """``"conv"``, ``"pool"``, ``"dense"``, ``"softmax"`` or ``"other"`` (Flatten, Dropout...)."""
    kinds = {"Conv2D": "conv", "MaxPool2D": "pool", "Dense": "dense", "Softmax": "softmax"}
    return kinds.get(type(layer).__name__, "other")


def _activation(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    return None if activation is None else type(activation).__name__.lower()


def network_input(grey: NDArray[np.float64]) -> NDArray[np.float32]:
    """The canvas as the network sees it, shape (28, 28, 1), or a friendly 422 refusal.

    A dot or a short dash would otherwise be blown up to fill the 20x20 digit box and get a
    confident but meaningless answer, so ink spanning less than ``MIN_INK_EXTENT`` of the
    canvas's shorter side (a pen dot on the page's 280x280 canvas spans 0.07; an MNIST digit
    spans about 0.7 of its 28x28 field) is refused.
    """
    try:
        image = mnist_style(cast(Any, grey))  # (28, 28, 1) float32 in [0, 1]
    except ValueError as error:
        raise RequestError(422, str(error)) from None
    extent = ink_extent(grey)
    if extent < MIN_INK_EXTENT:
        raise RequestError(
            422,
            f"too little ink to read as a digit (it spans {extent:.0%} of the canvas, "
            f"a digit needs {MIN_INK_EXTENT:.0%}): draw a whole digit, larger",
        )
    return image


def ink_extent(grey: NDArray[np.float64], ink_threshold: float = 0.2) -> float:
    """The longer side of the ink's bounding box over the canvas's shorter side, in [0, 1].

    Ink is found as :func:`tinycnn.data.pictures.mnist_style` finds it: the background is the
    median of the border (inverted when it is light), and a pixel is ink when it rises above
    the background by more than ``ink_threshold`` of the brightest pixel's rise.

    Parameters
    ----------
    grey : ndarray, shape (H, W)
        Canvas grey levels in [0, 1].
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:
        grey, border = 1.0 - grey, 1.0 - border
    background = float(np.median(border))
    span = float(grey.max()) - background
    if span <= 0:
        return 0.0
    ink = (grey - background) / span > ink_threshold  # (H, W) bool
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return 0.0
    longest = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    return float(longest / min(grey.shape))


def model_dtype(model: Sequential) -> np.dtype:
    """The dtype of the model's first parameter (float32 for a model file of tinycnn)."""
    for layer in model.layers:
        for value in layer.params.values():
            return value.dtype
    return np.dtype(np.float32)


def conv_layers(model: Sequential) -> list[Any]:
    """The model's Conv2D layers, in order."""
    return [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]


def to_bytes(x: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Levels in [0, 1] as bytes: ``round(255 * x)`` (values outside are clipped)."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def encode_maps(name: str, maps: NDArray[np.floating]) -> dict[str, Any]:
    """One conv layer's output, shape (OH, OW, F), as per-map scaled bytes in base64."""
    OH, OW, F = maps.shape
    planes = np.moveaxis(maps.astype(np.float64), -1, 0)  # (F, OH, OW)
    low = np.minimum(planes.min(axis=(1, 2)), 0.0)  # (F,)
    high = planes.max(axis=(1, 2))  # (F,)
    span = np.where(high > low, high - low, 1.0)
    scaled = to_bytes((planes - low[:, None, None]) / span[:, None, None])  # (F, OH, OW)
    return {
        "layer": name,
        "height": OH,
        "width": OW,
        "channels": F,
        "low": [_finite(v) for v in low],
        "high": [_finite(v) for v in high],
        "data": base64.b64encode(scaled.tobytes()).decode("ascii"),
    }


def _finite(value: float) -> float:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else 0.0
