"""The page as a lesson, without a browser: the explain endpoint, too little ink, the script file.

``/api/explain`` must return the model's own filter and multiply-adds whose sum, with the bias,
is the feature-map value the layer's forward pass computes; its receptive field must be the
pixels that can change that value. A dot must get a friendly refusal, a real digit never.
"""

from __future__ import annotations

import http.client
import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serving import running_server

from tinycnn.data.mnist import load_mnist
from tinycnn.data.pictures import mnist_style
from tinycnn.serve import api, explain
from tinycnn.serve.default_model import load_default_model
from tinycnn.teach.probes import feature_maps

TIMEOUT = 60.0


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def server(model):
    with running_server(model) as server:
        yield server


@pytest.fixture(scope="module")
def digits():
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    return x_test[:20, :, :, 0], y_test[:20]


def request(server, method: str, path: str, payload=None) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        body = None if payload is None else json.dumps(payload).encode()
        headers = {} if payload is None else {"Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def explain_request(image: np.ndarray, layer: int, channel: int, row: int, col: int) -> dict:
    H, W = image.shape
    return {
        "width": W,
        "height": H,
        "pixels": image.ravel().tolist(),
        "layer": layer,
        "channel": channel,
        "row": row,
        "col": col,
    }


def conv_outputs(model, image: np.ndarray) -> list[np.ndarray]:
    """The conv layers' outputs (OH, OW, F) for a canvas, run here with the model's layers."""
    x = mnist_style(image / 255.0).astype(np.float32)  # (28, 28, 1)
    maps = dict(feature_maps(model, x))
    return [maps[layer.describe()] for layer in api.conv_layers(model)]


CASES = [(0, 0, 0, 0), (0, 7, 13, 12), (0, 31, 25, 25), (1, 0, 0, 0), (1, 5, 4, 6), (1, 63, 10, 10)]


@pytest.mark.parametrize(("layer", "channel", "row", "col"), CASES)
def test_products_and_bias_add_up_to_the_feature_map_value(
    server, model, digits, layer, channel, row, col
):
    image = digits[0][2]
    status, _, body = request(
        server, "POST", "/api/explain", explain_request(image, layer, channel, row, col)
    )
    assert status == 200, body
    answer = json.loads(body)
    conv = api.conv_layers(model)[layer]
    w = conv.params["w"]  # (KH, KW, C, F)
    np.testing.assert_array_equal(
        np.array(answer["filter"]), np.transpose(w[:, :, :, channel], (2, 0, 1))
    )
    assert answer["bias"] == float(conv.params["b"][channel])
    products = np.array(answer["products"])  # (C, KH, KW)
    np.testing.assert_allclose(products, np.array(answer["window"]) * np.array(answer["filter"]))
    np.testing.assert_allclose(products.sum(axis=(1, 2)), answer["channel_sums"], atol=1e-12)
    assert products.sum() + answer["bias"] == pytest.approx(answer["z"], abs=1e-12)
    expected = conv_outputs(model, image)[layer][row, col, channel]
    assert answer["activation"] == "relu"
    assert max(answer["z"], 0.0) == pytest.approx(float(expected), abs=1e-5)
    assert answer["value"] == pytest.approx(float(expected), abs=1e-6)


def test_some_explained_values_are_not_zero(server, model, digits):
    """A ReLU zero explains little: the explained position of a lively map has z > 0."""
    image = digits[0][2]
    maps = conv_outputs(model, image)[1]  # (11, 11, 64)
    row, col, channel = np.unravel_index(np.argmax(maps), maps.shape)
    status, _, body = request(
        server,
        "POST",
        "/api/explain",
        explain_request(image, 1, int(channel), int(row), int(col)),
    )
    answer = json.loads(body)
    assert status == 200 and answer["z"] > 0
    assert answer["value"] == pytest.approx(float(maps[row, col, channel]), rel=1e-5)


def test_receptive_fields_of_the_seed_cnn(model):
    conv0, conv1 = api.conv_layers(model)
    # first conv: its own 3x3 window; second: 3x3 over 2x2 pools over 3x3 = 8x8
    assert explain.receptive_field(model, conv0, 5, 7) == {
        "top": 5,
        "left": 7,
        "bottom": 7,
        "right": 9,
    }
    assert explain.receptive_field(model, conv1, 4, 6) == {
        "top": 8,
        "left": 12,
        "bottom": 15,
        "right": 19,
    }
    assert explain.receptive_field(model, conv1, 10, 10)["bottom"] == 27


@given(
    layer=st.integers(0, 1),
    row=st.integers(0, 10),
    col=st.integers(0, 10),
    pixel=st.tuples(st.integers(0, 27), st.integers(0, 27)),
    seed=st.integers(0, 2**16),
)
def test_pixels_outside_the_receptive_field_do_not_change_the_value(
    model, layer, row, col, pixel, seed
):
    rng = np.random.default_rng(seed)
    x = rng.random((1, 28, 28, 1)).astype(np.float32)
    conv = api.conv_layers(model)[layer]
    rf = explain.receptive_field(model, conv, row, col)
    r, c = pixel
    inside = rf["top"] <= r <= rf["bottom"] and rf["left"] <= c <= rf["right"]
    before = explain.explain_value(model, x, layer, 0, row, col)
    changed = x.copy()
    changed[0, r, c, 0] += 5.0
    after = explain.explain_value(model, changed, layer, 0, row, col)
    if not inside:
        assert after["z"] == pytest.approx(before["z"], abs=1e-9)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"layer": 2}, 422),
        ({"layer": -1}, 422),
        ({"channel": 32}, 422),
        ({"row": 26}, 422),
        ({"col": "3"}, 400),
        ({"row": None}, 400),
        ({"channel": True}, 400),
    ],
)
def test_explain_refuses_bad_targets(server, digits, change, status):
    payload = {**explain_request(digits[0][0], 0, 0, 0, 0), **change}
    got, _, body = request(server, "POST", "/api/explain", payload)
    assert got == status and set(json.loads(body)) == {"error"}


# -- too little ink -------------------------------------------------------------------------
def dot(side: int, radius: float, at: tuple[int, int]) -> np.ndarray:
    """A round pen dot of ``radius`` on a black ``side`` x ``side`` canvas (values 0..255)."""
    rows, cols = np.mgrid[:side, :side]
    return np.where((rows - at[0]) ** 2 + (cols - at[1]) ** 2 <= radius**2, 255, 0)


@pytest.mark.parametrize(
    "canvas",
    [
        dot(280, 10, (140, 140)),  # one click with the page's 20 px pen
        dot(280, 10, (30, 250)),  # ... off centre
        np.maximum(dot(280, 10, (100, 100)), dot(280, 10, (110, 115))),  # a short dab
        255 - dot(280, 10, (140, 140)),  # dark ink on white
    ],
)
def test_a_dot_gets_a_friendly_answer_not_a_prediction(server, canvas):
    payload = {"width": 280, "height": 280, "pixels": canvas.ravel().tolist()}
    status, _, body = request(server, "POST", "/api/predict", payload)
    answer = json.loads(body)
    assert status == 422 and "too little ink" in answer["error"]
    assert "prediction" not in answer


def test_real_digits_have_enough_ink(digits):
    x, _ = digits
    for digit in x:
        assert api.ink_extent(digit / 255.0) >= 0.5  # MNIST digits span ~0.7 of the field
        canvas = np.kron(digit, np.ones((10, 10))) / 255.0  # as drawn on the page
        assert api.ink_extent(canvas) >= 0.5
    one = np.zeros((280, 280))
    one[60:220, 138:142] = 1.0  # a thin "1" is narrow but tall enough
    assert api.ink_extent(one) == pytest.approx(160 / 280)
    assert api.ink_extent(np.zeros((28, 28))) == 0.0


# -- the page's files ----------------------------------------------------------------------
def test_page_has_no_inline_script_and_the_script_is_served(server):
    status, _, page = request(server, "GET", "/")
    html = page.decode()
    assert status == 200
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/app.js" defer></script>'[:-9]]
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    status, headers, script = request(server, "GET", "/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    js = script.decode()
    assert "/api/explain" in js and "/api/predict" in js
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert unsafe not in js, unsafe
