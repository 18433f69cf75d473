"""``tinycnn serve [model.npz] [--host 127.0.0.1] [--port 8000]``: the draw-a-digit page.

Open the printed address in a browser, draw a digit, and watch the page show, live, the 28x28
image the network receives, the ten class probabilities and the feature maps of every conv
layer. Without a model file the model shipped with tinycnn is used (see
``tinycnn.serve.default_model``). The server listens on 127.0.0.1 unless told otherwise; it
has no authentication, so think twice before ``--host 0.0.0.0``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "serve a draw-a-digit web page showing the network's input, probabilities and feature maps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The optional model file, host and port."""
    parser.add_argument(
        "model", type=Path, nargs="?", default=None,
        help="a model file written by 'tinycnn train' (default: the model shipped with tinycnn)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port, 0 for any free one (8000)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from tinycnn.cli import CommandError
    from tinycnn.model import load_model
    from tinycnn.serve import load_default_model, make_server

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be in 0..65535, got {args.port}")
    model = load_default_model() if args.model is None else load_model(args.model, compile=False)
    try:
        server = make_server(model, args.host, args.port, log=not args.quiet)
    except OSError as error:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {error}") from None
    source = "the default model" if args.model is None else str(args.model)
    print(f"Serving {source} on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
