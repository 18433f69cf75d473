"""A small HTTP server for the draw-a-digit page, on the standard library alone.

Routes (nothing else exists; no file-system path is ever taken from a request):

- ``GET /`` (and ``/index.html``): the one static page, read once from the package at start;
- ``GET /app.js``: the page's script (kept out of the HTML, so a ``script-src 'self'`` policy
  allows it);
- ``GET /api/model``: the model's layers and parameter count, for the page's caption;
- ``POST /api/predict``: the prediction endpoint (see :mod:`tinycnn.serve.api`);
- ``POST /api/explain``: the multiply-adds behind one feature-map value
  (see :mod:`tinycnn.serve.explain`).

Every refusal is a 4xx answer with a JSON body ``{"error": "<short message>"}``: 404 unknown
path, 405 wrong method (with ``Allow``), 411 no ``Content-Length``, 413 body over
``MAX_BODY`` bytes (refused before reading it), 415 content type other than JSON, 400 malformed
JSON or bad values, 422 wrong sizes or no digit. A handler thread serves each connection
(``ThreadingHTTPServer``); the model is not thread-safe, so one lock serialises inference (one
request costs a few milliseconds; parsing and encoding run in parallel). A connection that stalls
mid-request is dropped after ``TIMEOUT`` seconds.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from tinycnn.serve import api, explain

MAX_BODY = 2 * 1024 * 1024
TIMEOUT = 10.0
PAGE_PATHS = ("/", "/index.html")
SCRIPT_PATH = "/app.js"
ROUTES = {
    "/": "GET",
    "/index.html": "GET",
    SCRIPT_PATH: "GET",
    "/api/model": "GET",
    "/api/predict": "POST",
    "/api/explain": "POST",
}


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

    def __init__(self, address: tuple[str, int], model: Any, log: bool = False) -> None:
        api.check_model(model)
        self.model = model
        self.model_lock = threading.Lock()
        self.log = log
        static = resources.files("tinycnn.serve").joinpath("static")
        self.page = static.joinpath("index.html").read_bytes()
        self.script = static.joinpath("app.js").read_bytes()
        self.model_info = _model_info(model)
        super().__init__(address, Handler)

    def predict(self, body: bytes) -> dict[str, Any]:
        """Parse a request body and run the model on it (inference serialised by a lock)."""
        grey = api.parse_request(body)
        with self.model_lock:
            return api.predict(self.model, grey)

    def explain(self, body: bytes) -> dict[str, Any]:
        """Answer an explain request (inference serialised by the same lock)."""
        with self.model_lock:
            return explain.explain(self.model, body)

    @property
    def url(self) -> str:
        """``http://host:port/`` of the listening socket."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode("ascii")
        return f"http://{host}:{port}/"


def _model_info(model: Any) -> dict[str, Any]:
    return {
        "layers": [layer.describe() for layer in model.layers],
        "params": int(model.count_params()),
    }


class Handler(BaseHTTPRequestHandler):
    """One connection: routes GET/POST and turns every refusal into a JSON 4xx."""

    server: DigitServer
    server_version = "tinycnn-serve"
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT

    def do_GET(self) -> None:  # noqa: N802 - the name http.server looks up
        path = self._route("GET")
        if path in PAGE_PATHS:
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path == SCRIPT_PATH:
            self._send(200, self.server.script, "text/javascript; charset=utf-8")
        elif path == "/api/model":
            self._send_json(200, self.server.model_info)

    def do_HEAD(self) -> None:  # noqa: N802
        path = self._route("HEAD")
        if path in PAGE_PATHS:
            self._send(200, self.server.page, "text/html; charset=utf-8", head=True)
        elif path == SCRIPT_PATH:
            self._send(200, self.server.script, "text/javascript; charset=utf-8", head=True)
        elif path == "/api/model":
            body = json.dumps(self.server.model_info, separators=(",", ":")).encode("utf-8")
            self._send(200, body, "application/json", head=True)

    def do_POST(self) -> None:  # noqa: N802
        path = self._route("POST")
        if path is None:
            return
        try:
            body = self._read_json_body()
            answer = self.server.explain if path == "/api/explain" else self.server.predict
            self._send_json(200, answer(body))
        except api.RequestError as error:
            self._send_json(error.status, {"error": error.message})
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
        length = self.headers.get("Content-Length")
        if length is None or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise api.RequestError(411, "a Content-Length header is required")
        if not length.strip().isdigit():
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
        self._send_json(status, {"error": message}, headers)

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json", headers=headers)

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
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
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
    model: Any, host: str = "127.0.0.1", port: int = 8000, log: bool = False
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
