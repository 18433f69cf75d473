"""The whole network on the page, without a browser: every column, every explanation, the
saliency and occlusion maps, fooling, and the one-sentence refusals.

Each answer is compared with the library computing the same thing another way: the layers'
own ``forward`` one by one, :mod:`tinycnn.teach.looks`, ``class_probabilities``.
"""

from __future__ import annotations

import base64
import http.client
import json

import numpy as np
import pytest
from serving import running_server

from tinycnn.data.mnist import load_mnist
from tinycnn.data.pictures import mnist_style
from tinycnn.layers import Dense, Flatten
from tinycnn.model import Sequential
from tinycnn.serve import api, explain, looks
from tinycnn.serve.default_model import load_default_model
from tinycnn.teach import looks as teach_looks
from tinycnn.teach.probes import class_probabilities

TIMEOUT = 60.0


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def digit():
    """A test "7" drawn on the page's 280x280 canvas, and what the network sees of it."""
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    seven = x_test[int(np.flatnonzero(y_test == 7)[0]), :, :, 0]
    canvas = np.kron(seven, np.ones((10, 10), dtype=np.uint8))
    return canvas, mnist_style(canvas / 255.0).astype(np.float32)  # (28, 28, 1)


def body(canvas: np.ndarray, **fields) -> bytes:
    H, W = canvas.shape
    return json.dumps(
        {"width": W, "height": H, "pixels": canvas.ravel().tolist(), **fields}
    ).encode()


def outputs(model, image):
    """Every layer's output for one image, run here layer by layer: [(layer, out[0])]."""
    out, result = image[None], []
    for layer in model.layers:
        out = layer.forward(out, training=False)
        result.append((layer, out[0]))
    return result


# -- the columns ----------------------------------------------------------------------------
def test_every_layer_is_a_column_through_the_softmax(model, digit):
    canvas, image = digit
    answer = api.predict(model, api.parse_request(body(canvas)))
    columns = answer["layers"]
    assert [(c["kind"], c["layer"], c.get("index")) for c in columns] == [
        ("conv", "conv2d", 0),
        ("pool", "max_pooling2d", 0),
        ("conv", "conv2d_1", 1),
        ("pool", "max_pooling2d_1", 1),
        ("dense", "dense", 0),
        ("softmax", "dense_1", None),
    ]
    run = dict((layer.describe(), out) for layer, out in outputs(model, image))
    for column in columns[:4]:
        expected = run[column["layer"]]  # (OH, OW, F)
        OH, OW, F = expected.shape
        assert (column["height"], column["width"], column["channels"]) == (OH, OW, F)
        sent = np.frombuffer(base64.b64decode(column["data"]), np.uint8).reshape(F, OH, OW)
        low, high = np.array(column["low"]), np.array(column["high"])
        decoded = low[:, None, None] + sent / 255 * (high - low)[:, None, None]
        np.testing.assert_allclose(decoded, np.moveaxis(expected, -1, 0), atol=high.max() / 250)
    np.testing.assert_allclose(columns[4]["values"], run["dense"], rtol=1e-5, atol=1e-6)
    assert columns[4]["activation"] == "relu" and min(columns[4]["values"]) >= 0
    p = class_probabilities(model, image[None])[0]
    np.testing.assert_allclose(columns[5]["probabilities"], p, atol=1e-6)
    z = model.forward(image[None], logits=True)[0]
    np.testing.assert_allclose(columns[5]["logits"], z, rtol=1e-5, atol=1e-5)
    assert answer["probabilities"] == columns[5]["probabilities"]


# -- explanations ---------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "f", "i", "j"), [(0, 2, 6, 6), (1, 5, 2, 2), (1, 63, 4, 4)])
def test_a_pooled_value_is_the_first_maximum_of_its_window(model, digit, k, f, i, j):
    canvas, image = digit
    a = explain.explain(model, body(canvas, kind="pool", layer=k, channel=f, row=i, col=j))
    run = outputs(model, image)
    pools = [n for n, (layer, _) in enumerate(run) if type(layer).__name__ == "MaxPool2D"]
    below, out = run[pools[k] - 1][1], run[pools[k]][1]
    window = below[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, f]
    np.testing.assert_array_equal(a["window"], window.astype(float))
    p, q = divmod(int(np.argmax(window)), 2)
    assert a["winner"] == [p, q] and a["value"] == float(out[i, j, f]) == window.max()
    assert (a["source"]["row"], a["source"]["col"]) == (2 * i + p, 2 * j + q)
    assert a["source"]["layer"] == run[pools[k] - 1][0].describe()
    size = {0: 4, 1: 10}[k]  # the seed CNN's receptive fields (docs/concepts/convolution.md)
    rf = a["receptive_field"]
    assert rf["bottom"] - rf["top"] + 1 == size == rf["right"] - rf["left"] + 1


@pytest.mark.parametrize(("k", "u"), [(0, 5), (0, 127), (1, 7), (1, 0)])
def test_a_dense_unit_is_its_inputs_times_weights_plus_bias(model, digit, k, u):
    canvas, image = digit
    a = explain.explain(model, body(canvas, kind="dense", layer=k, unit=u))
    run = outputs(model, image)
    dense = [layer for layer, _ in run if type(layer).__name__ == "Dense"][k]
    n = model.layers.index(dense)
    x = run[n - 1][1].astype(np.float64)  # (D,)
    w, b = dense.params["w"][:, u].astype(np.float64), float(dense.params["b"][u])
    assert a["inputs"] == x.size and a["bias"] == pytest.approx(b)
    assert a["z"] == pytest.approx((x * w).sum() + b, rel=1e-9, abs=1e-9)
    sizes = [abs(t["product"]) for t in a["top"]]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] >= np.sort(np.abs(x * w))[-len(sizes)] - 1e-12
    assert sum(t["product"] for t in a["top"]) + a["rest"] == pytest.approx(a["total"])
    if k == 0:  # fed by Flatten: each input is one value of the pooled maps
        maps = run[n - 2][1]  # (5, 5, 64)
        for t in a["top"]:
            assert t["x"] == pytest.approx(float(maps[tuple(t["source"])]))
        assert a["value"] == pytest.approx(max(a["z"], 0.0), abs=1e-5)
        assert a["activation"] == "relu" and not a["score"]
    else:  # the last layer: the value is the class score, before the softmax
        z = model.forward(image[None], logits=True)[0]
        assert a["value"] == pytest.approx(float(z[u]), rel=1e-5) and a["score"]
        assert a["from"] == "dense"


def test_a_class_probability_is_exp_over_the_sum_of_exps(model, digit):
    canvas, image = digit
    p = class_probabilities(model, image[None])[0]
    for k in (7, 3):
        a = explain.explain(model, body(canvas, kind="class", **{"class": k}))
        z = np.array(a["logits"])
        assert a["shift"] == z.max()
        np.testing.assert_allclose(a["exp"], np.exp(z - z.max()), rtol=1e-12)
        assert a["sum"] == pytest.approx(sum(a["exp"]))
        assert a["probability"] == pytest.approx(float(p[k]), abs=1e-6)


# -- looks and fool -------------------------------------------------------------------------
def test_looks_answers_the_librarys_saliency_and_occlusion(model, digit):
    canvas, image = digit
    a = looks.answer_looks(model, body(canvas, **{"class": 7}))
    expected = teach_looks.saliency(model, image, 7)
    np.testing.assert_allclose(a["saliency"], expected.ravel(), atol=1e-5)
    covered = teach_looks.occlusion(model, image, 7, patch=a["patch"], stride=a["stride"])
    np.testing.assert_allclose(a["occlusion"], covered.heat.ravel(), atol=1e-5)
    assert len(a["saliency"]) == len(a["occlusion"]) == 784 and max(a["saliency"]) > 0


def test_make_it_a_3(model, digit):
    canvas, image = digit
    a = looks.answer_fool(model, body(canvas, target=3, epsilon=0.25, steps=10))
    assert a["prediction"] == 3 == a["target"] and 1 <= a["steps"] <= 10
    assert int(np.argmax(a["before"])) == 7
    change = np.array(a["change"])
    assert np.abs(change).max() <= 0.25 + 1e-4 and np.abs(change).max() > 0.2
    new = image[..., 0] + change.reshape(28, 28)
    np.testing.assert_allclose(np.array(a["image"]).reshape(28, 28), 255 * new, atol=0.6)
    attack = teach_looks.fool(model, image, 3, epsilon=0.25, steps=10)
    np.testing.assert_allclose(a["probabilities"], attack.probabilities[-1], atol=1e-6)


# -- refusals: one sentence, a 4xx, over HTTP -----------------------------------------------
@pytest.fixture(scope="module")
def server(model):
    with running_server(model) as server:
        yield server


def post(server, path: str, payload: bytes) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


BLANK = np.zeros((280, 280), dtype=np.uint8)


@pytest.mark.parametrize(
    ("path", "fields", "status", "message"),
    [
        ("/api/looks", {"class": 10}, 422, "class must be in 0..9, got 10"),
        ("/api/looks", {"class": -1}, 422, "class must be in 0..9, got -1"),
        ("/api/looks", {"class": "3"}, 400, "class must be an integer, got str"),
        ("/api/fool", {"target": 12, "epsilon": 0.2, "steps": 3}, 422, "target must be in 0..9"),
        ("/api/fool", {"target": 3, "epsilon": 0.9, "steps": 3}, 422, "epsilon must be in 0.01.."),
        ("/api/fool", {"target": 3, "epsilon": 0, "steps": 3}, 422, "epsilon must be in 0.01..0.5"),
        ("/api/fool", {"target": 3, "epsilon": "big", "steps": 3}, 400, "epsilon must be a number"),
        ("/api/fool", {"target": 3, "epsilon": 0.2, "steps": 21}, 422, "steps must be in 1..20"),
        ("/api/fool", {"target": 3, "epsilon": 0.2, "steps": 0}, 422, "in 1..20, got 0"),
        ("/api/fool", {"target": 3, "epsilon": 0.2}, 400, "steps must be an integer, got NoneType"),
        ("/api/explain", {"kind": "class", "class": 10}, 422, "class must be in 0..9, got 10"),
        ("/api/explain", {"kind": "dense", "layer": 0, "unit": 128}, 422, "unit must be in 0..127"),
        ("/api/explain", {"kind": "pool", "layer": 2, "channel": 0, "row": 0, "col": 0}, 422,
         "layer must be in 0..1, got 2"),
        ("/api/explain", {"kind": "softmax"}, 422, "kind must be conv, pool, dense or class"),
    ],
)  # fmt: skip
def test_out_of_range_requests_get_one_sentence(server, digit, path, fields, status, message):
    got, answer = post(server, path, body(digit[0], **fields))
    assert got == status and set(answer) == {"error"}
    assert message in answer["error"] and "\n" not in answer["error"]


@pytest.mark.parametrize("path", ["/api/looks", "/api/fool", "/api/explain"])
def test_a_blank_drawing_gets_one_sentence(server, path):
    fields = {"class": 3, "target": 3, "epsilon": 0.2, "steps": 3, "kind": "class"}
    got, answer = post(server, path, body(BLANK, **fields))
    assert got == 422 and answer["error"].startswith("no digit found")


def test_a_model_without_conv_layers_gets_one_sentence(digit):
    dense = Sequential([Flatten(), Dense(10, activation="softmax")], input_shape=(28, 28, 1))
    with running_server(dense) as server:
        for kind in ("conv", "pool"):
            fields = {"kind": kind, "layer": 0, "channel": 0, "row": 0, "col": 0}
            got, answer = post(server, "/api/explain", body(digit[0], **fields))
            assert got == 422
            assert answer["error"] == f"this model has no {explain.KINDS[kind]} layer to explain"
        got, answer = post(server, "/api/predict", body(digit[0]))
        assert got == 200 and [c["kind"] for c in answer["layers"]] == ["softmax"]
        got, answer = post(server, "/api/looks", body(digit[0], **{"class": 1}))
        assert got == 200 and len(answer["saliency"]) == 784  # a gradient needs no conv layer
