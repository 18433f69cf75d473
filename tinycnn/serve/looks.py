"""What the network looks at, and fooling it: the ``/api/looks`` and ``/api/fool`` work.

Both take the prediction request (see :mod:`tinycnn.serve.api`) plus a class, and run
:mod:`tinycnn.teach.looks` on the drawing as the network sees it.

``POST /api/looks`` with ``"class": k`` (0..9)::

    {"class": k, "probability": p_k,
     "saliency": [784 floats],         # max over channels of |∂z_k/∂x|, row by row
     "occlusion": [784 floats],        # mean drop of p_k over the 6x6 patches covering a pixel
     "patch": 6, "stride": 2}

``POST /api/fool`` with ``"target": t`` (0..9), ``"epsilon"`` (``MIN_EPSILON..MAX_EPSILON``)
and ``"steps"`` (``1..MAX_STEPS``)::

    {"target": t, "epsilon": eps, "steps": T,   # the steps taken (it stops once t wins)
     "prediction": class of the new drawing, "before": [K floats], "probabilities": [K floats],
     "image": [784 ints 0..255],                # the new drawing, round(255 * x)
     "change": [784 floats]}                    # new minus old, each in [-eps, eps]

A class, target, epsilon or steps out of range is a 422 saying the range; a missing or
non-numeric one a 400.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinycnn.model import Sequential
from tinycnn.serve.api import RequestError, canvas_of, decode, model_dtype, network_input, to_bytes
from tinycnn.serve.explain import integer
from tinycnn.teach import looks

MAX_STEPS = 20
MIN_EPSILON = 0.01
MAX_EPSILON = 0.5
PATCH, STRIDE = 6, 2


def _input(model: Sequential, request: dict[str, Any]) -> Any:
    """The checked network input (1, 28, 28, 1) of a decoded request."""
    grey = canvas_of(request)
    return network_input(grey).astype(model_dtype(model))


def _rounded(values: Any, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.ravel(values)]


def answer_looks(model: Sequential, body: bytes) -> dict[str, Any]:
    """Decode a looks request and answer it with the saliency and occlusion maps."""
    request = decode(body)
    image = _input(model, request)  # (28, 28, 1)
    k = integer(request, "class", 0, int(model.output_shapes[-1][-1]) - 1)
    covered = looks.occlusion(model, image, k, patch=PATCH, stride=STRIDE)
    return {
        "class": k,
        "probability": round(covered.probability, 6),
        "saliency": _rounded(looks.saliency(model, image, k)),
        "occlusion": _rounded(covered.heat),
        "patch": PATCH,
        "stride": STRIDE,
    }


def _epsilon(request: dict[str, Any]) -> float:
    value = request.get("epsilon")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(400, f"epsilon must be a number, got {type(value).__name__}")
    if not MIN_EPSILON <= value <= MAX_EPSILON:
        raise RequestError(422, f"epsilon must be in {MIN_EPSILON}..{MAX_EPSILON}, got {value}")
    return float(value)


def answer_fool(model: Sequential, body: bytes) -> dict[str, Any]:
    """Decode a fool request and answer it with the attacked drawing and its probabilities."""
    request = decode(body)
    image = _input(model, request)  # (28, 28, 1)
    target = integer(request, "target", 0, int(model.output_shapes[-1][-1]) - 1)
    epsilon = _epsilon(request)
    steps = integer(request, "steps", 1, MAX_STEPS)
    attack = looks.fool(model, image, target, epsilon=epsilon, steps=steps)
    return {
        "target": target,
        "epsilon": epsilon,
        "steps": len(attack.images) - 1,
        "prediction": attack.prediction,
        "before": _rounded(attack.probabilities[0], 6),
        "probabilities": _rounded(attack.probabilities[-1], 6),
        "image": to_bytes(attack.image[..., 0]).ravel().tolist(),
        "change": _rounded(attack.change[..., 0], 4),
    }
