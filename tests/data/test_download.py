"""Downloading from mirrors, against a local HTTP server on 127.0.0.1 (never the network).

Most cases use a small synthetic MNIST-format data set with its own checksums (``checksums=`` is
injectable); one case serves the real files from the shared copy through ``load_mnist``.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tinycnn.data import download, mnist
from tinycnn.data.download import DownloadError, download_mnist
from tinycnn.data.idx import idx_bytes
from tinycnn.data.mnist import MNIST_FILES, load_mnist, read_mnist


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, declared_length)``; 404 for anything else."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, declared = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)  # when declared > len(body), the connection closes early

    def log_message(self, *args) -> None:
        """Keep the test output quiet."""


class LocalServer:
    """An HTTP server on 127.0.0.1, on an ephemeral port, in a thread."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.requests = []
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def mirror(self, name: str, files: dict[str, bytes], declared: dict[str, int] | None = None):
        """Serve ``files`` (name -> body) under /name/; returns the mirror's base URL."""
        for file_name, body in files.items():
            length = (declared or {}).get(file_name, len(body))
            self.httpd.routes[f"/{name}/{file_name}"] = (body, length)
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}/"

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No real mirror, no proxy, no user data folders."""
    monkeypatch.setattr(download, "MIRRORS", ())
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="module")
def synthetic() -> tuple[dict[str, bytes], dict[str, str], dict[str, np.ndarray]]:
    """A small MNIST-format data set: gzipped bodies, sha256 of the raw bytes, the arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 20, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    raw = {name: idx_bytes(a) for name, a in arrays.items()}
    bodies = {name + ".gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}
    return bodies, checksums, arrays


def dead_mirror() -> str:
    """A URL on a local port where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def assert_holds(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    (x_train, y_train), (x_test, y_test) = read_mnist(folder)
    np.testing.assert_array_equal(x_train[..., 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(x_test[..., 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def assert_untouched(folder: Path) -> None:
    """After a failure: no file at all, so certainly none under a final name, no temp file."""
    assert not folder.exists() or sorted(p.name for p in folder.iterdir()) == []


def test_good_mirror(server, synthetic, tmp_path):
    bodies, checksums, arrays = synthetic
    good = server.mirror("good", bodies)
    written = download_mnist(tmp_path / "data", mirrors=[good], checksums=checksums)
    assert sorted(p.name for p in written) == sorted(bodies)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(bodies)
    assert_holds(tmp_path / "data", arrays)
    assert ((tmp_path / "data" / "t10k-labels-idx1-ubyte.gz").stat().st_mode & 0o777) == 0o644
    # A second call finds everything in place and asks for nothing.
    before = len(server.requests)
    assert download_mnist(tmp_path / "data", mirrors=[good], checksums=checksums) == []
    assert len(server.requests) == before


def test_only_missing_files_are_fetched(server, synthetic, tmp_path):
    bodies, checksums, arrays = synthetic
    good = server.mirror("good", bodies)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(arrays["train-labels-idx1-ubyte"]))
    written = download_mnist(folder, mirrors=[good], checksums=checksums)
    assert len(written) == 3
    assert "/good/train-labels-idx1-ubyte.gz" not in server.requests
    assert_holds(folder, arrays)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda body: gzip.compress(gzip.decompress(body)[:-1] + b"\x01"), id="wrong"),
        pytest.param(lambda body: body[:10] + bytes(len(body) - 10), id="broken-gzip"),
        pytest.param(lambda body: b"<html>not found</html>", id="html-page"),
    ],
)
def test_corrupt_first_mirror_is_refused_and_the_next_one_used(
    server, synthetic, tmp_path, corrupt
):
    bodies, checksums, arrays = synthetic
    bad_bodies = dict(bodies)
    bad_bodies["train-images-idx3-ubyte.gz"] = corrupt(bodies["train-images-idx3-ubyte.gz"])
    bad = server.mirror("bad", bad_bodies)
    good = server.mirror("good", bodies)
    download_mnist(tmp_path / "data", mirrors=[bad, good], checksums=checksums)
    assert_holds(tmp_path / "data", arrays)
    tried = [r for r in server.requests if r.endswith("train-images-idx3-ubyte.gz")]
    assert tried == ["/bad/train-images-idx3-ubyte.gz", "/good/train-images-idx3-ubyte.gz"]
    # The other files were good on the first mirror, so the second was not asked for them.
    assert "/good/train-labels-idx1-ubyte.gz" not in server.requests


def test_corrupt_only_mirror_fails_with_the_checksum_named(server, synthetic, tmp_path):
    bodies, checksums, _ = synthetic
    bad_bodies = dict(bodies)
    bad_bodies["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    bad = server.mirror("bad", bad_bodies)
    with pytest.raises(DownloadError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        download_mnist(tmp_path / "data", mirrors=[bad], checksums=checksums)
    # The three good files were fetched and verified, yet none is renamed into place.
    assert_untouched(tmp_path / "data")


def test_truncated_transfer_is_refused(server, synthetic, tmp_path):
    bodies, checksums, arrays = synthetic
    name = "train-images-idx3-ubyte.gz"
    short = dict(bodies)
    short[name] = bodies[name][: len(bodies[name]) // 2]
    cut = server.mirror("cut", short, declared={name: len(bodies[name])})
    with pytest.raises(DownloadError, match=rf"{name}: truncated transfer: received \d+ of \d+"):
        download_mnist(tmp_path / "data", mirrors=[cut], checksums=checksums)
    assert_untouched(tmp_path / "data")
    good = server.mirror("good", bodies)
    download_mnist(tmp_path / "data", mirrors=[cut, good], checksums=checksums)
    assert_holds(tmp_path / "data", arrays)


def test_dead_mirror_is_skipped(server, synthetic, tmp_path):
    bodies, checksums, arrays = synthetic
    dead = dead_mirror()
    with pytest.raises(DownloadError, match="Connection refused") as caught:
        download_mnist(tmp_path / "data", mirrors=[dead], checksums=checksums, timeout=5)
    assert dead + "train-images-idx3-ubyte.gz" in str(caught.value)
    assert_untouched(tmp_path / "data")
    good = server.mirror("good", bodies)
    download_mnist(tmp_path / "data", mirrors=[dead, good], checksums=checksums, timeout=5)
    assert_holds(tmp_path / "data", arrays)


def test_missing_file_on_a_mirror_lists_every_attempt(server, synthetic, tmp_path):
    bodies, checksums, _ = synthetic
    partial = {k: v for k, v in bodies.items() if not k.startswith("t10k-images")}
    first = server.mirror("first", partial)
    second = server.mirror("second", partial)
    with pytest.raises(DownloadError) as caught:
        download_mnist(tmp_path / "data", mirrors=[first, second], checksums=checksums)
    message = str(caught.value)
    assert message.startswith("could not download t10k-images-idx3-ubyte; tried:")
    assert message.count("HTTP Error 404") == 2
    assert_untouched(tmp_path / "data")


def test_an_interrupted_download_leaves_nothing(monkeypatch, server, synthetic, tmp_path):
    bodies, checksums, _ = synthetic
    good = server.mirror("good", bodies)
    real_stream = download._stream_to
    calls = []

    def stream_then_interrupt(url, out, timeout):
        calls.append(url)
        if len(calls) == 3:  # two files done, the third half written
            out.write(b"\x1f\x8b partial")
            raise KeyboardInterrupt
        real_stream(url, out, timeout)

    monkeypatch.setattr(download, "_stream_to", stream_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        download_mnist(tmp_path / "data", mirrors=[good], checksums=checksums)
    assert_untouched(tmp_path / "data")


def test_no_mirrors_is_a_clear_error(tmp_path, synthetic):
    with pytest.raises(DownloadError, match="no mirrors given"):
        download_mnist(tmp_path / "data", mirrors=[], checksums=synthetic[1])


def test_load_mnist_downloads_the_real_files_into_the_cache(monkeypatch, server, mnist_dir):
    """End to end with the real checksums: the shared .gz files (whose gzip wrapping differs from
    the public mirrors') pass, because the check is on the decompressed bytes."""
    real = {n + ".gz": (mnist_dir / (n + ".gz")).read_bytes() for n in MNIST_FILES}
    labels_only = {n: b for n, b in real.items() if "labels" in n}
    first = server.mirror("labels-only", labels_only)
    second = server.mirror("full", real)
    monkeypatch.setattr(download, "MIRRORS", (dead_mirror(), first, second))
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60_000, 28, 28, 1) and x_test.shape == (10_000, 28, 28, 1)
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert sorted(p.name for p in mnist.cache_dir().iterdir()) == sorted(real)
    assert mnist.locate_mnist() == (mnist.cache_dir(), "cache")
    assert "/full/train-labels-idx1-ubyte.gz" not in server.requests


def test_load_mnist_with_only_bad_mirrors_leaves_the_cache_without_data(server, synthetic):
    bodies, _, _ = synthetic  # right names, wrong content for the real checksums
    with pytest.raises(mnist.MnistNotFoundError, match="checksum mismatch"):
        load_mnist(mirrors=[server.mirror("fake", bodies)])
    assert mnist.locate_mnist() is None
    assert not any(p.name.endswith((".gz", "-ubyte")) for p in mnist.cache_dir().iterdir())
