"""The server's limits (issue 17, finding 6): a per-request deadline drops a client that trickles
bytes while the others are served, a cap on concurrent connections answers 503 beyond it, HEAD is
answered, and every answer carries the Content-Security-Policy that forbids inline script."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from tinycnn.serve.default_model import load_default_model
from tinycnn.serve.server import SECURITY_HEADERS, make_server

pytestmark = pytest.mark.timeout(120)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'"
)


@pytest.fixture
def serve():
    """Start servers on free ports; each is shut down after the test."""
    started = []

    def start(**attributes):
        server = make_server(load_default_model(), "127.0.0.1", 0)
        for key, value in attributes.items():
            setattr(server, key, value)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(30)


def get(server, method="GET", path="/api/model"):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_every_answer_carries_the_security_headers(serve):
    server = serve()
    for method, path, status in [
        ("GET", "/", 200), ("GET", "/api/model", 200), ("HEAD", "/api/model", 200),
        ("GET", "/nope", 404), ("PUT", "/", 405), ("BREW", "/", 405),
    ]:  # fmt: skip
        got, headers, _ = get(server, method, path)
        assert got == status, (method, path, got)
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
    assert SECURITY_HEADERS["Content-Security-Policy"] == CSP


def test_head_api_model_is_answered_with_the_get_headers(serve):
    server = serve()
    status, headers, body = get(server, "HEAD", "/api/model")
    _, get_headers, get_body = get(server, "GET", "/api/model")
    assert status == 200 and body == b""
    assert headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))
    assert json.loads(get_body)["params"] > 0


def test_a_trickling_client_is_dropped_while_others_are_served(serve):
    server = serve(request_deadline=1.0)
    payload = b"GET /api/model HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    sent, dropped = [0], threading.Event()

    def trickle():
        """One byte every 0.05 s: the whole request would take 12 s, the deadline is 1 s."""
        with socket.create_connection(server.server_address[:2], timeout=30) as sock:
            sock.settimeout(0.05)
            try:
                for byte in payload:
                    sock.sendall(bytes([byte]))
                    sent[0] += 1
                    try:
                        if sock.recv(1) == b"":  # the server closed the connection
                            break
                    except TimeoutError:  # still open: nothing to read yet
                        pass
            except OSError:  # reset by the server: dropped too
                pass
        dropped.set()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    answered = 0
    while not dropped.is_set():
        assert get(server)[0] == 200  # the others are served meanwhile
        answered += 1
    thread.join(30)
    assert answered > 0
    assert sent[0] < len(payload), "the slow client was never dropped"


def test_connections_beyond_the_cap_get_503_and_the_server_recovers(serve):
    server = serve(request_deadline=30.0)
    server.connection_slots = threading.BoundedSemaphore(2)
    idle = [socket.create_connection(server.server_address[:2], timeout=30) for _ in range(2)]
    try:
        time.sleep(0.2)  # let the server accept both (they hold the two slots)
        with socket.create_connection(server.server_address[:2], timeout=30) as extra:
            extra.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := extra.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"Content-Security-Policy: default-src 'self'" in head
        assert "too many connections" in json.loads(body)["error"]
    finally:
        for sock in idle:
            sock.close()
    for _ in range(100):  # the slots come back once the idle connections are gone
        try:
            if get(server)[0] == 200:
                break
        except (ConnectionError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    assert get(server)[0] == 200
