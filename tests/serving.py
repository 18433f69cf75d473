"""A tinycnn server in a thread on a free 127.0.0.1 port, for the tests that talk HTTP to it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from tinycnn.serve.server import make_server


@contextlib.contextmanager
def running_server(model: Any, **attributes: Any) -> Iterator[Any]:
    """``make_server(model, "127.0.0.1", 0)`` serving in a daemon thread, with ``attributes``
    set on it first (a limit a test lowers); shut down, closed and its thread joined on exit."""
    server = make_server(model, "127.0.0.1", 0)
    for key, value in attributes.items():
        setattr(server, key, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(60)
