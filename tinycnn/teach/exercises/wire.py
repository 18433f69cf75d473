"""The grader's wire format between the parent and a student's child process: no pickle.

The child runs code nobody has reviewed, so nothing it sends may run code in the parent when it
is read. A message is one frame::

    u32 length of the JSON header | JSON header | blob 0 | blob 1 | ...

The header is the value with every array replaced by ``{"$nd": [i, dtype, shape, order]}``:
its elements' bytes are blob ``i`` (``order`` "C" or "F", as they lie in memory), and the
reader makes a new array of that plain dtype (``"<f8"``: a number, a string, bytes or a date;
nothing of Python objects) and shape from them. An array of any other dtype (fields, say) is
``{"$npy": i}``, written by ``np.save(..., allow_pickle=False)`` and read by
``np.load(..., allow_pickle=False)``; object arrays are refused on both sides. ``"blobs"``
lists the blob sizes. Other values:

- ``None``, ``bool``, ``int``, ``float``, ``str`` as JSON; lists as lists;
- a tuple ``{"$tuple": [...]}``, a dict ``{"$dict": [[key, value], ...]}``, a NumPy scalar
  ``{"$sc": array}`` (a 0-d array's tag);
- a ``numpy.random.Generator`` ``{"$rng": state}`` (its bit generator's state; the bit generator
  must be one of NumPy's own);
- a function ``{"$cb": k}`` (a *callback*: the other side calls it through a message; only the
  parent sends functions);
- anything else ``{"$unreadable": "type name"}``, read back as an ``Unreadable``.

This module is also run by the child before anything of tinycnn is imported: it imports only
the standard library and NumPy.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

__all__ = ["FrameReader", "Unreadable", "WireError", "decode", "encode", "pack", "write_frame"]

MAX_HEADER = 64 * 2**20  # bytes of JSON in one message
MAX_FRAME = 1024 * 2**20  # bytes of one message, arrays included
Buffer = bytes | bytearray
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class WireError(Exception):
    """A message that cannot be sent or read (too large, malformed, the other side gone)."""


class Unreadable:
    """A value the other side could not send (an object of type ``type_name``)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


def encode(value: Any, blobs: list[bytes], callbacks: list[Callable] | None = None) -> Any:
    """``value`` as JSON-ready data; arrays appended to ``blobs``, functions to ``callbacks``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value, blobs)
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return {"$sc": _encode_array(np.asarray(value), blobs)}
    if isinstance(value, (list, tuple)):
        items = [encode(item, blobs, callbacks) for item in value]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict):
        pairs = [[encode(k, blobs), encode(v, blobs, callbacks)] for k, v in value.items()]
        return {"$dict": pairs}
    if isinstance(value, np.random.Generator):
        return {"$rng": encode(value.bit_generator.state, blobs)}
    if callable(value) and callbacks is not None:
        callbacks.append(value)
        return {"$cb": len(callbacks) - 1}
    return {"$unreadable": type(value).__name__}


def _encode_array(value: np.ndarray, blobs: list[bytes]) -> dict:
    if value.dtype.hasobject:
        return {"$unreadable": "ndarray of Python objects"}
    if not _plain(value.dtype):
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"$npy": len(blobs) - 1}
    order: Literal["C", "F"] = "C"
    if value.flags.f_contiguous and not value.flags.c_contiguous:
        order = "F"
    blobs.append(value.tobytes(order=order))
    return {"$nd": [len(blobs) - 1, value.dtype.str, list(value.shape), order]}


def _plain(dtype: np.dtype) -> bool:
    """A dtype ``dtype.str`` names in full: no fields, no sub-arrays, no Python objects."""
    return dtype.fields is None and dtype.subdtype is None and not dtype.hasobject


def decode(data: Any, blobs: Sequence[Buffer], callback: Callable[[int], Any] | None = None) -> Any:
    """The value ``encode`` wrote; ``callback(k)`` makes the stand-in for function ``k``."""
    if isinstance(data, list):
        return [decode(item, blobs, callback) for item in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1:
        raise WireError(f"expected one tagged value, got keys {sorted(data)[:4]}")
    ((tag, body),) = data.items()
    if tag == "$nd":
        return _array(blobs, body)
    if tag == "$npy":
        return _saved_array(blobs, body)
    if tag == "$sc" and isinstance(body, dict) and list(body) in (["$nd"], ["$npy"]):
        return decode(body, blobs)[()]
    if tag == "$tuple":
        return tuple(decode(item, blobs, callback) for item in body)
    if tag == "$dict":
        return {_key(decode(k, blobs)): decode(v, blobs, callback) for k, v in body}
    if tag == "$rng":
        return _generator(decode(body, blobs))
    if tag == "$cb" and callback is not None and isinstance(body, int):
        return callback(body)
    if tag == "$unreadable":
        return Unreadable(str(body))
    raise WireError(f"unknown tag {tag!r}")


def _key(key: Any) -> Any:
    if isinstance(key, (list, dict, np.ndarray)):
        raise WireError(f"a dict key must be hashable, got {type(key).__name__}")
    return key


def _blob(blobs: Sequence[Buffer], index: Any) -> Buffer:
    if not isinstance(index, int) or not 0 <= index < len(blobs):
        raise WireError(f"array {index!r} is not in the message")
    return blobs[index]


def _array(blobs: Sequence[Buffer], body: Any) -> np.ndarray:
    """A new, writable array from ``[index, dtype, shape, order]`` and blob ``index``."""
    try:
        index, dtype_name, shape, order = body
        if not isinstance(dtype_name, str) or order not in ("C", "F"):
            raise ValueError(f"expected a dtype's name and the order C or F, got {body[1:]}")
        data, dtype = _blob(blobs, index), np.dtype(dtype_name)
        if not _plain(dtype):
            raise ValueError(f"expected a plain dtype, got {dtype_name!r}")
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"expected a shape of sizes, got {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"{len(data)} bytes for {count} elements of {dtype}")
        flat = np.frombuffer(data, dtype, count) if count else np.empty(0, dtype)
        return flat.reshape(shape, order=order).copy(order="K")
    except (TypeError, ValueError) as error:
        raise WireError(f"an unreadable array ({error})") from None


def _saved_array(blobs: Sequence[Buffer], index: Any) -> np.ndarray:
    try:
        return np.load(io.BytesIO(_blob(blobs, index)), allow_pickle=False)
    except ValueError as error:
        raise WireError(f"array {index} is unreadable: {error}") from None


def _generator(state: Any) -> np.random.Generator:
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise WireError(f"expected one of NumPy's bit generators {BIT_GENERATORS}, got {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def pack(message: dict, callbacks: list[Callable] | None = None) -> bytes:
    """One frame holding ``message`` (a dict of JSON-ready values and arrays)."""
    blobs: list[bytes] = []
    header = {"m": encode(message, blobs, callbacks), "blobs": [len(b) for b in blobs]}
    text = json.dumps(header).encode("utf-8")
    return struct.pack("<I", len(text)) + text + b"".join(blobs)


def write_frame(fd: int, message: dict, deadline: float | None = None, callbacks=None) -> None:
    """Write one frame to ``fd`` (blocking, or non-blocking until ``deadline``)."""
    data = memoryview(pack(message, callbacks))
    while data:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError("the other side stopped reading")
        try:
            written = os.write(fd, data[: 1 << 20])
        except BlockingIOError:
            continue
        except OSError as error:  # BrokenPipeError: the other side is gone
            raise WireError(f"the other side is gone ({error.strerror})") from None
        data = data[written:]


class FrameReader:
    """Reads frames from a file descriptor, with a deadline per read."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def _fill(self, size: int, deadline: float | None) -> None:
        while len(self.buffer) < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                    raise TimeoutError("no answer in time")
            try:
                chunk = os.read(self.fd, max(size - len(self.buffer), 1 << 16))
            except BlockingIOError:
                continue
            if not chunk:
                raise WireError("the other side closed the connection")
            self.buffer += chunk

    def _take(self, size: int, deadline: float | None) -> bytearray:
        self._fill(size, deadline)
        data = self.buffer[:size]
        del self.buffer[:size]
        return data

    def read(self, deadline: float | None = None, callback=None) -> dict:
        """The next message; ``TimeoutError`` after ``deadline``, ``WireError`` if malformed."""
        (length,) = struct.unpack("<I", self._take(4, deadline))
        if length > MAX_HEADER:
            raise WireError(f"a message header of {length} bytes (at most {MAX_HEADER})")
        try:
            header = json.loads(self._take(length, deadline))
            sizes = [int(size) for size in header["blobs"]]
        except (ValueError, KeyError, TypeError) as error:
            raise WireError(f"a malformed message header ({error})") from None
        if sum(sizes) > MAX_FRAME or min(sizes, default=0) < 0:
            raise WireError(f"a message of {sum(sizes)} bytes (at most {MAX_FRAME})")
        blobs = [self._take(size, deadline) for size in sizes]
        message = decode(header["m"], blobs, callback)
        if not isinstance(message, dict):
            raise WireError(f"expected a message dict, got {type(message).__name__}")
        return message
