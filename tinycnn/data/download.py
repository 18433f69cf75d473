"""Download the four MNIST files from public mirrors, verified and written atomically.

Each file is fetched from the mirrors in order until one copy passes the check: the sha256 of the
*decompressed* bytes must equal the published value (the gzip wrapping differs between mirrors,
the content does not). A copy is streamed into a hidden temporary file in the destination folder
(``.<name>.<random>.part``). Only when all missing files have been fetched and verified is each
one flushed to disk (``fsync``) and renamed to its final name with ``os.replace``, which is atomic
on one file system. So an interrupted or failed download never leaves a file under a final name:
the loader sees either a complete, verified file or none.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from tinycnn.saving.durable import fsync_folder

# Base URLs tried in order; a file's URL is base + name + ".gz". Looked up at call time, so tests
# can point it at a local server.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# sha256 of the decompressed files (the canonical IDX bytes).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

DEFAULT_TIMEOUT = 30.0  # seconds without data before a mirror is given up
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a file that passed the checksum; the message lists every attempt."""


def download_mnist(
    folder: str | os.PathLike,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Fetch the files of a data set that are missing from ``folder``.

    Parameters
    ----------
    folder : str or PathLike
        Destination, created if needed. Files already there (``name`` or ``name.gz``) are kept.
    mirrors : sequence of str, optional
        Base URLs tried in order; default ``MIRRORS``.
    checksums : mapping of str to str, optional
        File name (without ``.gz``) -> sha256 hex digest of its decompressed bytes; default
        ``MNIST_SHA256``. These names are the files to fetch.
    timeout : float
        Seconds to wait on a silent connection before trying the next mirror.

    Returns
    -------
    list of Path
        The files written (empty if nothing was missing).

    Raises
    ------
    DownloadError
        If some file could not be had from any mirror. Nothing is renamed into place then, and
        the temporary files are removed.
    """
    folder = Path(folder)
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    checksums = MNIST_SHA256 if checksums is None else checksums
    missing = [n for n in checksums if not any((folder / (n + s)).exists() for s in ("", ".gz"))]
    if not missing:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    fetched: dict[Path, Path] = {}  # final path -> verified temporary file
    try:
        for name in missing:
            temp, is_gzip = _fetch_verified(name, checksums[name], folder, mirrors, timeout)
            fetched[folder / (name + (".gz" if is_gzip else ""))] = temp
        for final, temp in fetched.items():
            os.replace(temp, final)
        fsync_folder(folder)
    finally:
        for temp in fetched.values():
            temp.unlink(missing_ok=True)
    return list(fetched)


def _fetch_verified(
    name: str, sha256: str, folder: Path, mirrors: Sequence[str], timeout: float
) -> tuple[Path, bool]:
    """Try each mirror for one file; return the verified temporary file and whether it is gzip."""
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name + ".gz"
        fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _stream_to(url, out, timeout)
                out.flush()
                os.fsync(out.fileno())
            is_gzip = _verify(temp, sha256)
            os.chmod(temp, 0o644)  # mkstemp makes it private; the final file is a normal one
            return temp, is_gzip
        except (OSError, http.client.HTTPException, ValueError, EOFError, zlib.error) as error:
            # URLError, HTTPError, timeouts and refused connections are all OSErrors.
            temp.unlink(missing_ok=True)
            failures.append(f"  {url}: {error}")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    tried = "\n".join(failures) if failures else "  (no mirrors given)"
    raise DownloadError(f"could not download {name}; tried:\n{tried}")


def _stream_to(url: str, out, timeout: float) -> None:
    """Copy the body at ``url`` into ``out``; ValueError if shorter than its Content-Length."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        expected = response.headers.get("Content-Length")
        received = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
    # http.client returns a short body without complaint when the server closes early.
    if expected is not None and received != int(expected):
        raise ValueError(f"truncated transfer: received {received} of {expected} bytes")


def _verify(path: Path, sha256: str) -> bool:
    """Check the sha256 of the decompressed content; returns whether the file is gzip."""
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
        digest = hashlib.sha256()
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise ValueError(
            f"checksum mismatch: sha256 of the content is {digest.hexdigest()}, expected {sha256}"
        )
    return is_gzip
