"""The prediction server over real loopback HTTP: answers, every kind of bad request, a burst.

A server with the shipped default model runs in a thread on a free 127.0.0.1 port for the whole
module. Good requests are checked against ``tinycnn.data.pictures.mnist_style`` and the model run
in-process; every malformed request must get its 4xx with a short JSON message while the
server keeps answering.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serving import running_server

from tinycnn.data.mnist import load_mnist
from tinycnn.data.pictures import mnist_style
from tinycnn.serve import api
from tinycnn.serve.default_model import DEFAULT_MODEL_PATH, load_default_model
from tinycnn.serve.server import MAX_BODY
from tinycnn.teach.probes import class_probabilities

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
    """20 MNIST test digits (the embedded subset) and their labels."""
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    return x_test[:20, :, :, 0], y_test[:20]


def request(
    server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a new connection: (status, headers, body)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(server, payload: Any) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, _, data = request(
        server, "POST", "/api/predict", body, {"Content-Type": "application/json"}
    )
    return status, json.loads(data)


def canvas_request(image: np.ndarray) -> dict:
    H, W = image.shape
    return {"width": W, "height": H, "pixels": image.ravel().tolist()}


def assert_refused(status: int, answer: dict, expected: int) -> None:
    assert status == expected, answer
    assert set(answer) == {"error"}
    assert isinstance(answer["error"], str) and 0 < len(answer["error"]) <= 120


# -- good requests ---------------------------------------------------------------------------
def test_default_model_is_small_and_accurate(model, digits):
    assert DEFAULT_MODEL_PATH.stat().st_size <= 1_000_000
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    predicted = class_probabilities(model, x_test.astype(np.float32) / 255).argmax(axis=1)
    assert np.mean(predicted == y_test) >= 0.97


def test_prediction_matches_the_library(server, model, digits):
    x, y = digits
    canvas = np.kron(x[0], np.ones((10, 10), dtype=np.uint8))  # (280, 280), like the page
    status, answer = post_json(server, canvas_request(canvas))
    assert status == 200
    seen = mnist_style(canvas / 255.0)  # (28, 28, 1)
    image = np.array(answer["image"], dtype=np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(image, np.rint(seen[..., 0] * 255).astype(np.uint8))
    p = class_probabilities(model, seen[np.newaxis])[0]
    np.testing.assert_allclose(answer["probabilities"], p, atol=1e-5)
    assert answer["prediction"] == int(np.argmax(p)) == y[0]
    assert math.isclose(sum(answer["probabilities"]), 1.0, abs_tol=1e-4)


def test_feature_maps_are_the_conv_outputs_scaled_per_map(server, model, digits):
    x, _ = digits
    status, answer = post_json(server, canvas_request(x[3]))
    assert status == 200
    maps = [m for m in answer["layers"] if m["kind"] == "conv"]
    assert [(m["layer"], m["height"], m["width"], m["channels"]) for m in maps] == [
        ("conv2d", 26, 26, 32),
        ("conv2d_1", 11, 11, 64),
    ]
    first = model.layers[0].forward(mnist_style(x[3] / 255.0)[np.newaxis])[0]  # (26, 26, 32)
    sent = np.frombuffer(base64.b64decode(maps[0]["data"]), dtype=np.uint8).reshape(32, 26, 26)
    high = first.max(axis=(0, 1))  # (32,) ReLU output: low is 0
    np.testing.assert_allclose(maps[0]["high"], high, rtol=1e-5, atol=1e-6)
    assert maps[0]["low"] == [0.0] * 32
    for f in np.flatnonzero(high > 0):
        expected = np.rint(255 * first[..., f] / high[f])
        assert np.abs(sent[f].astype(int) - expected).max() <= 1


def test_page_and_model_info(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<canvas id="pad"' in body and b'<script src="/app.js"' in body
    status, _, body = request(server, "GET", "/api/model")
    assert status == 200 and json.loads(body)["params"] == 225_034


# -- malformed requests ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/nope", "/static/index.html", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api"],
)
def test_unknown_paths_are_404(server, path):
    status, headers, body = request(server, "GET", path)
    assert_refused(status, json.loads(body), 404)
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/predict", "POST"),
        ("PUT", "/api/predict", "POST"),
        ("DELETE", "/api/predict", "POST"),
        ("POST", "/", "GET"),
        ("PATCH", "/", "GET"),
        ("POST", "/api/model", "GET"),
    ],
)
def test_wrong_method_is_405(server, method, path, allow):
    status, headers, body = request(server, method, path, b"{}" if method != "GET" else None)
    assert_refused(status, json.loads(body), 405)
    assert headers["Allow"] == allow


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(server, content_type, digits):
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps(canvas_request(digits[0][0])).encode()
    status, _, data = request(server, "POST", "/api/predict", body, headers)
    assert_refused(status, json.loads(data), 415)


def raw_exchange(server, head: bytes, body: bytes = b"", shut: bool = False) -> tuple[int, dict]:
    """Send bytes on a raw socket and parse the one answer (status, JSON body)."""
    with socket.create_connection(server.server_address[:2], timeout=TIMEOUT) as sock:
        sock.sendall(head + body)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_part, _, payload = data.partition(b"\r\n\r\n")
    return int(head_part.split()[1]), json.loads(payload)


def test_body_over_the_limit_is_413_without_reading_it(server):
    head = (
        b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(MAX_BODY + 1).encode() + b"\r\n\r\n"
    )
    status, answer = raw_exchange(server, head)  # the server answers before any body comes
    assert_refused(status, answer, 413)


def test_missing_length_is_411_and_short_body_is_400(server):
    head = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, answer = raw_exchange(server, head + b"Connection: close\r\n\r\n", b"{}", shut=True)
    assert_refused(status, answer, 411)
    status, answer = raw_exchange(server, head + b"Content-Length: 100\r\n\r\n", b"{}", shut=True)
    assert_refused(status, answer, 400)
    status, answer = raw_exchange(server, head + b"Content-Length: -5\r\n\r\n", shut=True)
    assert_refused(status, answer, 400)


GOOD = {"width": 8, "height": 8, "pixels": [0] * 64}


def with_(**changes: Any) -> dict:
    return {**GOOD, **changes}


MALFORMED = [
    (b'{"width": 28,', 400),
    (b"\xff\xfe not utf-8", 400),
    (b"", 400),
    (b"[1, 2, 3]", 400),
    (b'"pixels"', 400),
    ({"width": 8, "height": 8}, 400),
    ({"pixels": [0] * 64}, 400),
    (with_(width="8"), 400),
    (with_(height=True), 400),
    (with_(width=8.0), 400),
    (with_(pixels="0" * 64), 400),
    (with_(pixels={"0": 0}), 400),
    (with_(pixels=[0] * 63 + ["1"]), 400),
    (with_(pixels=[0] * 63 + [None]), 400),
    (with_(pixels=[0] * 63 + [True]), 400),
    (with_(pixels=[0] * 63 + [[1]]), 400),
    (with_(pixels=[0] * 63 + [-1]), 400),
    (with_(pixels=[0] * 63 + [255.5]), 400),
    (with_(pixels=[0] * 63 + [10**400]), 400),
    (b'{"width": 8, "height": 8, "pixels": [' + b"0, " * 63 + b"NaN]}", 400),
    (b'{"width": 8, "height": 8, "pixels": [' + b"0, " * 63 + b"Infinity]}", 400),
    (b'{"width": 8, "height": 8, "pixels": [' + b"0, " * 63 + b"-Infinity]}", 400),
    (b'{"width": 8, "height": 8, "pixels": [' + b"0, " * 63 + b"1e400]}", 400),
    (with_(pixels=[0] * 63), 422),
    (with_(pixels=[0] * 65), 422),
    (with_(pixels=[]), 422),
    (with_(width=4, pixels=[0] * 32), 422),
    (with_(width=2000, pixels=[0] * 16000), 422),
    (with_(width=1000, height=1000, pixels=[]), 422),
    (GOOD, 422),  # a blank canvas: no digit
    (with_(pixels=[200] * 64), 422),  # a uniform canvas: no ink distinct from the background
]


@pytest.mark.parametrize(("payload", "expected"), MALFORMED)
def test_malformed_requests_get_a_4xx_and_the_server_keeps_serving(
    server, payload, expected, digits
):
    status, answer = post_json(server, payload)
    assert_refused(status, answer, expected)
    status, answer = post_json(server, canvas_request(digits[0][1]))
    assert status == 200 and answer["prediction"] == digits[1][1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(
    width=json_values | st.integers(0, 40),
    height=json_values | st.integers(0, 40),
    pixels=json_values | st.lists(st.integers(-2, 300) | st.floats(), max_size=80),
)
def test_parse_request_never_fails_unexpectedly(width, height, pixels):
    body = json.dumps({"width": width, "height": height, "pixels": pixels}).encode()
    try:
        grey = api.parse_request(body)
    except api.RequestError as error:
        assert error.status in (400, 422) and error.message
    else:
        assert grey.shape == (height, width)
        assert np.isfinite(grey).all() and grey.min() >= 0 and grey.max() <= 1


# -- a burst of concurrent clients ------------------------------------------------------------
def test_burst_of_200_concurrent_requests(server, model, digits):
    x, _ = digits
    expected = [
        int(np.argmax(class_probabilities(model, mnist_style(d / 255.0)[np.newaxis]))) for d in x
    ]
    bodies = [json.dumps(canvas_request(d)).encode() for d in x]
    start = threading.Barrier(200, timeout=TIMEOUT)

    def one(i: int) -> tuple[int, int]:
        start.wait()
        status, _, data = request(
            server, "POST", "/api/predict", bodies[i % 20], {"Content-Type": "application/json"}
        )
        return status, json.loads(data)["prediction"]

    with ThreadPoolExecutor(max_workers=200) as pool:
        answers = list(pool.map(one, range(200), timeout=2 * TIMEOUT))
    assert len(answers) == 200
    assert answers == [(200, expected[i % 20]) for i in range(200)]
    status, _, _ = request(server, "GET", "/")
    assert status == 200


# -- the command ---------------------------------------------------------------------------
def test_cli_serves_until_interrupted(tmp_path):
    command = [sys.executable, "-m", "tinycnn", "serve", str(DEFAULT_MODEL_PATH), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", first)
        assert url, first
        with urllib.request.urlopen(url.group(0) + "api/model", timeout=TIMEOUT) as response:
            assert json.load(response)["params"] == 225_034
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert '"GET /api/model HTTP/1.1" 200' in err  # one log line per request


@pytest.mark.parametrize(
    ("args", "message"),
    [(["missing.npz"], "missing.npz"), (["--port", "70000"], "--port must be in 0..65535")],
)
def test_cli_errors_are_one_line(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "tinycnn", "serve", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tinycnn serve: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_port_in_use_is_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tinycnn", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"tinycnn serve: error: cannot listen on 127.0.0.1:{port}")
