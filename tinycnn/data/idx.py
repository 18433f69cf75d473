"""Read and write IDX files, the format of the MNIST database (raw or gzip-compressed).

An IDX file is a header followed by the array's elements in C order, big-endian::

    byte 0, 1   0x00 0x00                      (magic: always zero)
    byte 2      type code                      (see ``IDX_DTYPES``)
    byte 3      number of dimensions, ndim
    4 * ndim    the sizes of the dimensions, each a big-endian uint32
    the data    prod(sizes) * itemsize bytes

``load_idx`` reads the header, checks it, and reads the data straight into a NumPy array, so the
full MNIST training images (47 MB) load in about a third of a second. A gzip file is recognised by
its magic bytes ``1f 8b``, whatever its name.

Notes
-----
IDX has no checksum, so corruption is caught by consistency: the file length must be exactly
``4 + 4*ndim + prod(sizes)*itemsize``. This library refuses dimensions of size 0 (no real IDX file
has one, and it would let a corrupted size go unnoticed, because ``prod`` stays 0). With every size
at least 1, a change to any byte of the header changes the expected length, or makes the header
invalid, with one exception no reader can catch: a type code replaced by another code of the same
itemsize (ubyte 0x08 <-> sbyte 0x09, int 0x0C <-> float 0x0D). Pass ``dtype=`` to ``load_idx``
when the expected type is known, as ``load_mnist`` does, and that case is refused too.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

# IDX type code -> big-endian NumPy dtype of the elements on disk.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1
_MAX_DEFLATE_RATIO = 1100  # deflate cannot expand more than ~1032:1

PathLike = str | os.PathLike


def load_idx(path: PathLike, dtype: DTypeLike | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into an array.

    Parameters
    ----------
    path : str or PathLike
        The file. Gzip compression is detected from the content, not the name.
    dtype : dtype, optional
        The element type the caller expects (e.g. ``np.uint8`` for MNIST). When given, a file
        declaring another type is refused. Without it, any of the six IDX types is accepted.

    Returns
    -------
    ndarray, shape as declared by the header
        A new, writable array in native byte order: uint8, int8, int16, int32, float32 or
        float64 for the type codes 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E.

    Raises
    ------
    ValueError
        Naming the file and the problem: not a regular file (a folder, a FIFO), empty,
        truncated, wrong magic number, unknown type code,
        a dimension of size 0, unexpected type, trailing bytes after the data, or a corrupt gzip
        stream.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():  # open() on a FIFO would wait forever for a writer
        raise ValueError(f"{path}: not a regular file (a folder, FIFO or device); expected IDX")
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        # An upper bound on the decompressed length, to refuse absurd sizes before allocating.
        limit = _MAX_DEFLATE_RATIO * size + 1024 if compressed else size
        try:
            return _read_idx(stream, dtype, limit)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        except (EOFError, OSError, zlib.error) as error:
            # gzip.BadGzipFile is an OSError; EOFError means the stream ended early.
            raise ValueError(f"{path}: corrupt or truncated gzip data ({error})") from None


def _read_idx(stream, dtype: DTypeLike | None, limit: int) -> np.ndarray:
    """Parse one IDX stream (already decompressed if needed); ValueError without the file name."""
    head = stream.read(4)
    if not head:
        raise ValueError("the file is empty")
    if len(head) < 4:
        raise ValueError(f"truncated header: {len(head)} of 4 bytes")
    if head[:2] != b"\x00\x00":
        raise ValueError(f"wrong magic number: expected 00 00 <type> <ndim>, got {head.hex(' ')}")
    disk_dtype = _check_type(head[2], dtype)
    shape = _read_shape(stream, head[3])
    nbytes = math.prod(shape) * disk_dtype.itemsize
    available = limit - 4 - 4 * len(shape)
    if nbytes > available:
        raise ValueError(f"truncated data: expected {nbytes} bytes, got at most {available}")
    out = np.empty(shape, dtype=disk_dtype)
    n_read = _read_into(stream, out)
    if n_read < out.nbytes:
        raise ValueError(f"truncated data: expected {out.nbytes} bytes, got {n_read}")
    if stream.read(1):
        raise ValueError(f"trailing bytes after the {out.nbytes} bytes of data")
    return out.astype(disk_dtype.newbyteorder("="), copy=False)


def _read_into(stream, out: np.ndarray) -> int:
    """Fill ``out`` with bytes from the stream; returns how many bytes it got (short at EOF)."""
    buffer = out.reshape(-1).view(np.uint8).data  # a writable memoryview of the bytes
    filled = 0
    while filled < len(buffer):
        n = stream.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled


def _check_type(code: int, dtype: DTypeLike | None) -> np.dtype:
    """The on-disk dtype for a type code, checked against the expected dtype if any."""
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"unknown type code 0x{code:02X} (known: {known})")
    disk_dtype = IDX_DTYPES[code]
    if dtype is not None and disk_dtype.newbyteorder("=") != np.dtype(dtype).newbyteorder("="):
        raise ValueError(
            f"expected elements of type {np.dtype(dtype)}, the header declares {disk_dtype.name}"
        )
    return disk_dtype


def _read_shape(stream, ndim: int) -> tuple[int, ...]:
    """Read ``ndim`` big-endian uint32 sizes, each at least 1."""
    if ndim == 0:
        raise ValueError("the header declares 0 dimensions")
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"truncated header: {ndim} dimensions need {4 * ndim} bytes of sizes, got {len(sizes)}"
        )
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    if 0 in shape:
        raise ValueError(f"a dimension of size 0 in shape {shape}")
    return shape


def save_idx(path: PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file; gzip-compressed when the name ends with ``.gz``.

    The gzip output is reproducible: compression level 9, modification time 0 and no file name
    in the gzip header, so the same array always gives the same bytes (with the same zlib).

    Parameters
    ----------
    path : str or PathLike
        Where to write.
    array : ndarray, any shape with 1 to 255 dimensions, no dimension of size 0
        uint8, int8, int16, int32, float32 or float64 (any byte order).

    Raises
    ------
    ValueError
        For another dtype, 0 or more than 255 dimensions, a size of 0 or one above 2**32 - 1.
    """
    array = np.asarray(array)
    path = Path(path)
    data = idx_bytes(array)
    if path.name.endswith(".gz"):
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as stream,
        ):
            stream.write(data)
    else:
        path.write_bytes(data)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding (header + big-endian data) of an array; see ``save_idx``."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        names = ", ".join(dt.newbyteorder("=").name for dt in IDX_DTYPES.values())
        raise ValueError(f"IDX cannot store dtype {array.dtype}; expected one of {names}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    if min(array.shape) < 1 or max(array.shape) > _MAX_DIM:
        raise ValueError(f"IDX sizes must be in [1, 2**32 - 1], got shape {array.shape}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
