"""The server's limits (issue 17, finding 6): a per-request deadline drops a client that trickles
bytes while the others are served, a cap on concurrent connections answers 503 beyond it, HEAD is
answered, and every answer carries the Content-Security-Policy that forbids inline script."""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import threading
import time

import pytest
from serving import running_server

from tinycnn.serve.default_model import load_default_model
from tinycnn.serve.server import SECURITY_HEADERS

pytestmark = pytest.mark.timeout(120)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'"
)


@pytest.fixture
def serve():
    """Start servers on free ports; each is shut down after the test."""
    with contextlib.ExitStack() as started:

        def start(**attributes):
            return started.enter_context(running_server(load_default_model(), **attributes))

        yield start


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


BUSY = (
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n"
)  # headers sent, the body never: a busy connection, not an idle one


def test_connections_beyond_the_cap_get_503_and_the_server_recovers(serve):
    server = serve(request_deadline=30.0)
    server.max_connections = 2
    busy = [socket.create_connection(server.server_address[:2], timeout=30) for _ in range(2)]
    try:
        for sock in busy:
            sock.sendall(BUSY)
        time.sleep(0.3)  # let the server accept both and read their headers
        with socket.create_connection(server.server_address[:2], timeout=30) as extra:
            extra.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_all(extra)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"Content-Security-Policy: default-src 'self'" in head
        assert "too many connections" in json.loads(body)["error"]
    finally:
        for sock in busy:
            sock.close()
    for _ in range(100):  # the slots come back once the busy connections are gone
        try:
            if get(server)[0] == 200:
                break
        except (ConnectionError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    assert get(server)[0] == 200


def read_all(sock):
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_an_idle_connection_is_evicted_to_serve_a_new_one(serve):
    server = serve(request_deadline=30.0, header_deadline=30.0)
    server.max_connections = 2
    idle = [socket.create_connection(server.server_address[:2], timeout=30) for _ in range(2)]
    try:
        time.sleep(0.3)  # both accepted, neither has sent a byte
        assert get(server)[0] == 200  # the oldest idle one made room
        for sock in idle:
            sock.settimeout(1.0)
        assert idle[0].recv(100) == b""  # the oldest was closed without an answer
        with pytest.raises(TimeoutError):
            idle[1].recv(100)  # the other is still open
    finally:
        for sock in idle:
            sock.close()


def test_one_client_is_capped_while_another_is_served(serve):
    server = serve(request_deadline=30.0)
    server.max_per_client, server.max_waiting = 3, 0  # no waiting: the 4th is refused
    mine = []
    try:
        for _ in range(3):
            sock = socket.create_connection(server.server_address[:2], timeout=30,
                                            source_address=("127.0.0.2", 0))  # fmt: skip
            sock.sendall(BUSY)
            mine.append(sock)
        time.sleep(0.3)
        with socket.create_connection(
            server.server_address[:2], timeout=30, source_address=("127.0.0.2", 0)
        ) as extra:
            extra.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_all(extra).startswith(b"HTTP/1.1 503")
        assert get(server)[0] == 200  # another address: served
    finally:
        for sock in mine:
            sock.close()


def test_connections_over_a_client_cap_wait_for_its_turn(serve):
    server = serve(request_deadline=30.0)
    server.max_per_client = 1
    with socket.create_connection(
        server.server_address[:2], timeout=30, source_address=("127.0.0.2", 0)
    ) as first:
        first.sendall(BUSY)  # holds the client's one slot until its body comes
        time.sleep(0.2)
        second = socket.create_connection(
            server.server_address[:2], timeout=30, source_address=("127.0.0.2", 0)
        )
        second.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)
        assert len(server.waiting) == 1  # waiting, not refused, not served
        first.sendall(b"x" * 100)  # the first request ends (400: not JSON), freeing the slot
        assert read_all(first).startswith(b"HTTP/1.1 400")
    with second:
        assert read_all(second).startswith(b"HTTP/1.1 200")


def test_duplicate_content_length_is_refused(serve):
    server = serve()
    with socket.create_connection(server.server_address[:2], timeout=30) as sock:
        sock.sendall(
            b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
        )
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400")
    assert "exactly one Content-Length" in json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


def hold_slow_sockets(address, count, stop, reopened):
    """``count`` sockets from 127.0.0.2 that never send a byte, each re-opened when dropped."""
    selector = selectors.DefaultSelector()

    def open_one():
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind(("127.0.0.2", 0))
        sock.connect_ex(address)
        selector.register(sock, selectors.EVENT_READ)

    for _ in range(count):
        open_one()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.1):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # dropped (after a 503, the deadline or an eviction): re-open it
                selector.unregister(sock)
                sock.close()
                open_one()
                reopened[0] += 1
    for key in list(selector.get_map().values()):
        key.fileobj.close()


def test_300_slow_sockets_from_one_address_do_not_lock_out_another(serve):
    """Issue 24's acceptance: 30 predictions from 127.0.0.1 all answered within 10 s while
    127.0.0.2 holds 300 slow sockets, re-opening each one dropped."""
    server = serve()
    stop, reopened = threading.Event(), [0]
    attacker = threading.Thread(
        target=hold_slow_sockets, args=(server.server_address[:2], 300, stop, reopened)
    )
    attacker.start()
    drawing = [255 if 11 <= i % 28 <= 16 and 5 <= i // 28 <= 22 else 0 for i in range(784)]
    body = json.dumps({"width": 28, "height": 28, "pixels": drawing})
    try:
        time.sleep(1.0)  # the 300 sockets are connected (or being refused) before we start
        start = time.monotonic()
        statuses = []
        for _ in range(30):
            conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
            conn.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            statuses.append(response.status)
            assert 0 <= json.loads(response.read())["prediction"] <= 9
            conn.close()
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        attacker.join(30)
    assert statuses == [200] * 30
    assert elapsed < 10.0, f"30 predictions took {elapsed:.1f} s"
    assert reopened[0] > 0  # the slow client was capped: its extra sockets were dropped
    with server.connections_lock:
        from_attacker = sum(1 for c in server.connections.values() if c.client == "127.0.0.2")
    assert from_attacker <= server.max_per_client


def test_a_client_that_leaves_is_no_traceback_but_a_bug_still_is(serve, capsys):
    server = serve()
    for error, printed in ((ConnectionResetError(104, "reset"), False), (ValueError("bug"), True)):
        try:
            raise error
        except type(error):
            server.handle_error(None, ("127.0.0.2", 1))
        err = capsys.readouterr().err
        assert ("Traceback" in err) is printed, err
