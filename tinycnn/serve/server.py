"""A small HTTP server for the draw-a-digit page, on the standard library alone.

Routes (nothing else exists; no file-system path is ever taken from a request):

- ``GET /`` (and ``/index.html``): the one static page, read once from the package at start;
- ``GET /app.js``: the page's script (kept out of the HTML, so a ``script-src 'self'`` policy
  allows it);
- ``GET /api/model``: the model's layers and parameter count, for the page's caption;
- ``POST /api/predict``: the prediction endpoint (see :mod:`tinycnn.serve.api`);
- ``POST /api/explain``: where one value comes from: a conv value's multiply-adds, a pooled
  value's window, a dense unit's largest contributions, a class's softmax
  (see :mod:`tinycnn.serve.explain`);
- ``POST /api/looks``, ``POST /api/fool``: saliency and occlusion maps, and a fooling drawing
  (see :mod:`tinycnn.serve.looks`).

Every refusal is a 4xx answer with a JSON body ``{"error": "<short message>"}``: 404 unknown
path, 405 wrong or unknown method (with ``Allow``), 408 a request not read within
``REQUEST_DEADLINE`` seconds, 411 no ``Content-Length``, 413 body over ``MAX_BODY`` bytes (refused
before reading it), 415 content type other than JSON, 400 malformed request line, headers or JSON
(including JSON nested too deep, integers of thousands of digits and two ``Content-Length``
headers) or bad values, 422 wrong sizes or no digit, and 422 when the model's answer is not a
finite number (a damaged model: bare ``NaN`` is not JSON, so it is never sent). ``HEAD`` is
answered for every ``GET`` route.

Every answer carries ``Content-Security-Policy: default-src 'self'; script-src 'self';
style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'`` (no inline script or
event-handler attribute can run, even if a model-controlled string reached the page as markup;
the page's inline stylesheet may) and ``X-Content-Type-Options: nosniff``.

A handler thread serves each connection (``ThreadingHTTPServer``), at most ``MAX_CONNECTIONS``
at once and at most ``MAX_PER_CLIENT`` for one client address, so one client holding hundreds
of slow sockets cannot lock the others out: its connections beyond its cap wait, without a
thread, for one of its own to end (a burst of requests from one address, a classroom behind
one router, is served in turn), and beyond ``MAX_WAITING`` waiting connections get a 503 JSON
answer and are closed at once. A connection beyond the total cap first evicts the oldest
connection that has not sent a whole request line and headers (an idle one); when every
connection is busy it gets the 503 too. The request line and headers must arrive within
``HEADER_DEADLINE`` seconds, the whole request within ``REQUEST_DEADLINE`` (deadlines over
every read, not per-read timeouts), so a client trickling bytes is dropped while the others
are served. The model is not thread-safe, so one lock serialises inference (one request costs
a few milliseconds; parsing and encoding run in parallel).
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from tinycnn.model import Sequential
from tinycnn.serve import api, explain, looks

MAX_BODY = 2 * 1024 * 1024
TIMEOUT = 10.0
REQUEST_DEADLINE = 10.0  # seconds for a whole request (line, headers, body) to arrive
HEADER_DEADLINE = 3.0  # seconds for the request line and headers (a page sends them at once)
MAX_CONNECTIONS = 256  # as many as the listen backlog; slow ones are dropped by the deadline
MAX_PER_CLIENT = 32  # connections served at once for one address (a browser opens about 6)
MAX_WAITING = 256  # connections over their client's cap waiting for its turn, all clients
LINGER = 0.5  # seconds to read a client's unread bytes before closing
# Scripts only from this server's own files: no inline <script>, no onerror= attributes, no
# eval. The page's stylesheet is inline, hence the one relaxation, for styles only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
NOT_FINITE = (
    "the model's answer is not a finite number (NaN or infinite): its weights are damaged, so "
    "there is no prediction to show"
)
PAGE_PATHS = ("/", "/index.html")
SCRIPT_PATH = "/app.js"
ROUTES = {
    "/": "GET",
    "/index.html": "GET",
    SCRIPT_PATH: "GET",
    "/api/model": "GET",
    "/api/predict": "POST",
    "/api/explain": "POST",
    "/api/looks": "POST",
    "/api/fool": "POST",
}
# POST path -> the function answering its body (all but predict hold the model lock whole)
ANSWERS = {"/api/explain": explain.explain, "/api/looks": looks.answer_looks,
           "/api/fool": looks.answer_fool}  # fmt: skip


class DigitServer(ThreadingHTTPServer):
    """The server: holds the model, its lock, and the page.

    Parameters
    ----------
    address : (str, int)
        Host and port; port 0 picks a free one (read it back from ``server_address``).
    model : Sequential
        Built, input shape (28, 28, 1).
    log : bool
        Write one line per request to stderr.
    """

    daemon_threads = True
    request_queue_size = 256  # a burst of clients must not overflow the listen backlog
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], model: Sequential, log: bool = False) -> None:
        api.check_model(model)
        self.model = model
        self.model_lock = threading.Lock()
        self.log = log
        static = resources.files("tinycnn.serve").joinpath("static")
        self.page = static.joinpath("index.html").read_bytes()
        self.script = static.joinpath("app.js").read_bytes()
        self.model_info = _model_info(model)
        self.request_deadline = REQUEST_DEADLINE
        self.header_deadline = HEADER_DEADLINE
        self.max_connections = MAX_CONNECTIONS
        self.max_per_client = MAX_PER_CLIENT
        self.max_waiting = MAX_WAITING
        self.waiting: list[tuple[Any, Any]] = []  # over their client's cap, in arrival order
        self.connections: dict[Any, _Connection] = {}  # the open ones, by socket
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread, let it wait for its client's turn, or answer 503."""
        with self.connections_lock:
            verdict = self._admit(request, str(client_address[0]))
            if verdict == "wait":
                self.waiting.append((request, client_address))
        if verdict == "refuse":
            _refuse_busy(request)
            self.close_request(request)
        elif verdict == "serve":
            self._start(request, client_address)

    def _start(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.forget(request)
            raise

    def _admit(self, request: Any, client: str) -> str:
        """ "serve" (room made under both caps, evicting an idle connection if need be), "wait"
        (the client is at its cap: its turn comes when one of its connections ends) or
        "refuse"."""
        if self._count(client) >= self.max_per_client:
            return "wait" if len(self.waiting) < self.max_waiting else "refuse"
        if len(self.connections) >= self.max_connections:
            if not self._evict(list(self.connections)):
                return "refuse"
        self.connections[request] = _Connection(client, time.monotonic())
        return "serve"

    def _count(self, client: str) -> int:
        return sum(1 for c in self.connections.values() if c.client == client)

    def _evict(self, candidates: list[Any]) -> bool:
        """Close the oldest of ``candidates`` that has not sent its headers; False if none."""
        idle = [sock for sock in candidates if not self.connections[sock].busy]
        if not idle:
            return False
        victim = min(idle, key=lambda sock: self.connections[sock].since)
        del self.connections[victim]
        try:
            victim.shutdown(socket.SHUT_RDWR)  # its handler's read returns: the thread ends
        except OSError:
            pass
        return True

    def mark(self, request: Any, busy: bool) -> None:
        """A connection has sent its headers (busy) or waits for the next request (idle)."""
        with self.connections_lock:
            connection = self.connections.get(request)
            if connection is not None:
                connection.busy = busy
                connection.since = time.monotonic()

    def forget(self, request: Any) -> None:
        """The connection is closed: free its place, and start a waiting one that now fits."""
        with self.connections_lock:
            self.connections.pop(request, None)
            turn = self._next_waiting()
        if turn is not None:
            self._start(*turn)

    def _next_waiting(self) -> tuple[Any, Any] | None:
        """The first waiting connection whose client is under its cap, now admitted."""
        if len(self.connections) >= self.max_connections:
            return None
        for i, (request, client_address) in enumerate(self.waiting):
            client = str(client_address[0])
            if self._count(client) < self.max_per_client:
                del self.waiting[i]
                self.connections[request] = _Connection(client, time.monotonic())
                return request, client_address
        return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left mid-request (reset, broken pipe, timed out) is not the server's
        error: no traceback on stderr. Anything else is reported as ``socketserver`` does."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        """Close the listening socket and the connections still waiting for their turn."""
        super().server_close()
        with self.connections_lock:
            waiting, self.waiting = self.waiting, []
        for request, _ in waiting:
            self.close_request(request)

    def shutdown_request(self, request: Any) -> None:
        """Lingering close: after the answer, read what the client still sends (up to
        ``LINGER`` seconds), so closing with unread bytes does not reset the connection and
        destroy the answer before the client reads it (e.g. a 414 for a 70 kB request line)."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER)
            deadline = time.monotonic() + LINGER
            while time.monotonic() < deadline and request.recv(65536):
                pass
        except OSError:
            pass
        self.close_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.forget(request)

    def predict(self, body: bytes) -> dict[str, Any]:
        """Parse a request body and run the model on it (inference serialised by a lock)."""
        grey = api.parse_request(body)
        with self.model_lock:
            return api.predict(self.model, grey)

    def explain(self, body: bytes) -> dict[str, Any]:
        """Answer an explain request (inference serialised by the same lock)."""
        return self.answer("/api/explain", body)

    def answer(self, path: str, body: bytes) -> dict[str, Any]:
        """Answer a POST to ``path`` (inference serialised by the same lock)."""
        if path == "/api/predict":
            return self.predict(body)
        with self.model_lock:
            return ANSWERS[path](self.model, body)

    @property
    def url(self) -> str:
        """``http://host:port/`` of the listening socket."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode("ascii")
        return f"http://{host}:{port}/"


class _Connection:
    """What the caps need to know of an open connection."""

    def __init__(self, client: str, since: float) -> None:
        self.client = client  # the client's address
        self.since = since  # when it last became idle
        self.busy = False  # its request line and headers have arrived


def _model_info(model: Sequential) -> dict[str, Any]:
    return {
        "layers": [layer.describe() for layer in model.layers],
        "params": int(model.count_params()),
    }


def _refuse_busy(sock: socket.socket) -> None:
    """A minimal 503 written straight to the socket (no handler thread is started for it)."""
    body = b'{"error":"too many connections; try again shortly"}'
    head = "".join(f"{key}: {value}\r\n" for key, value in SECURITY_HEADERS.items())
    try:
        sock.settimeout(1.0)
        sock.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n{head}\r\n".encode()
            + body
        )
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        sock.recv(65536)  # what already arrived, so closing does not reset the connection
    except OSError:
        pass


class _DeadlineReader(io.RawIOBase):
    """The connection's bytes, each read bounded by the handler's per-request deadline."""

    def __init__(self, sock: socket.socket, handler: Handler) -> None:
        self.sock = sock
        self.handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.handler.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(min(remaining, TIMEOUT))
        return self.sock.recv_into(buffer)


class Handler(BaseHTTPRequestHandler):
    """One connection: routes GET/POST and turns every refusal into a JSON 4xx."""

    server: DigitServer
    server_version = "tinycnn-serve"
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answers always carry a status line and headers
    timeout = TIMEOUT
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self))

    def handle_one_request(self) -> None:
        self.started = time.monotonic()
        deadline = min(self.server.header_deadline, self.server.request_deadline)
        self.deadline = self.started + deadline  # for the request line and headers
        super().handle_one_request()
        self.server.mark(self.connection, busy=False)  # waiting for the next request: idle

    def parse_request(self) -> bool:
        """The request line and headers have arrived: the connection is busy, not idle."""
        parsed = super().parse_request()
        if parsed:
            self.server.mark(self.connection, busy=True)
            self.deadline = self.started + self.server.request_deadline  # now for the body
        return parsed

    def do_GET(self, head: bool = False) -> None:  # noqa: N802 - the name http.server looks up
        path = self._route("HEAD" if head else "GET")
        if path in PAGE_PATHS:
            self._send(200, self.server.page, "text/html; charset=utf-8", head=head)
        elif path == SCRIPT_PATH:
            self._send(200, self.server.script, "text/javascript; charset=utf-8", head=head)
        elif path == "/api/model":
            self._send_json(200, self.server.model_info, head=head)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET(head=True)

    def do_POST(self) -> None:  # noqa: N802
        path = self._route("POST")
        if path is None:
            return
        try:
            body = self._read_json_body()
            self._send_json(200, self.server.answer(path, body))
        except api.RequestError as error:
            self._send_json(error.status, {"error": error.message})
        except TimeoutError:
            self.close_connection = True
            self._send_json(408, {"error": "the request did not arrive in time"})
        except Exception as error:  # a bug must cost one request, not the server
            self.close_connection = True
            sys.stderr.write(f"tinycnn serve: internal error: {error!r}\n")
            self._send_json(500, {"error": "internal error"})

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._route("PATCH")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._route("OPTIONS")

    def _route(self, method: str) -> str | None:
        """The path when it accepts ``method``; otherwise answer 404/405 and return None."""
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        allowed = ROUTES.get(path)
        if allowed is None:
            self._refuse(404, f"no such page: {path[:80]}")
            return None
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            self._refuse(405, f"{path} accepts {allowed} only", {"Allow": allowed})
            return None
        return path

    def _read_json_body(self) -> bytes:
        """The request body, after checking its type and length (raises RequestError)."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            self.close_connection = True  # the body is left unread
            raise api.RequestError(415, "send the request as Content-Type: application/json")
        if len(self.headers.get_all("Content-Length") or []) > 1:
            self.close_connection = True  # which one would a proxy in front have used?
            raise api.RequestError(400, "send exactly one Content-Length header")
        length = self.headers.get("Content-Length")
        if length is None or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise api.RequestError(411, "a Content-Length header is required")
        if re.fullmatch(r"[0-9]{1,12}", length.strip()) is None:  # ASCII digits only
            self.close_connection = True
            raise api.RequestError(400, "Content-Length must be a non-negative integer")
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise api.RequestError(413, f"the body must be at most {MAX_BODY} bytes")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            self.close_connection = True
            raise api.RequestError(400, "the body is shorter than its Content-Length")
        return body

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        # A body we did not read would be parsed as the next request: close instead.
        if self.headers.get("Content-Length", "0").strip() not in ("", "0"):
            self.close_connection = True
        self._send_json(status, {"error": message}, headers, head=self.command == "HEAD")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line or headers, unknown method) as JSON."""
        self.close_connection = True
        headers = None
        if code == HTTPStatus.NOT_IMPLEMENTED:  # an unknown method: the client's mistake
            code, headers = HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD, POST"}
        text = message or HTTPStatus(code).phrase
        self._send_json(code, {"error": text[:200]}, headers, head=self.command == "HEAD")

    def _send_json(
        self,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        try:  # the one place answers are serialised: bare NaN is not JSON, never send it
            text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        except ValueError:
            status, text = 422, json.dumps({"error": NOT_FINITE})
        self._send(status, text.encode("utf-8"), "application/json", headers=headers, head=head)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.server.log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(
    model: Sequential, host: str = "127.0.0.1", port: int = 8000, log: bool = False
) -> DigitServer:
    """A :class:`DigitServer` bound to ``(host, port)``, not yet serving.

    Call ``serve_forever()`` (blocking) or run it in a thread; ``shutdown()`` stops it and
    ``server_close()`` frees the port. The model is run once here so that the first visitor
    does not wait for Numba to compile the kernels.
    """
    server = DigitServer((host, port), model, log=log)
    warm = [0] * (28 * 28)
    for row in range(4, 24):  # a "1": enough ink to be read as a digit
        warm[row * 28 + 14] = 255
    server.predict(json.dumps({"width": 28, "height": 28, "pixels": warm}).encode())
    return server
