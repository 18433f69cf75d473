"""Makers of damaged and hostile model files, for the bad-input corpus and the fuzz test.

Every maker writes into a folder the test owns (nothing is checked in) and returns the path.
The files start from a real model file of :func:`tiny_model` and change one thing.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.saving import io as tio


def tiny_model(seed: int = 0) -> Sequential:
    """Conv(2, 3, relu) - Pool - Flatten - Dense(10): 14x14x1 inputs, 10 classes, compiled."""
    model = Sequential(
        [Conv2D(2, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(10)],
        input_shape=(14, 14, 1),
        seed=seed,
    )
    model.compile(optimizer="adam")
    return model


def parts(model: Sequential | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The ``meta`` document and weight arrays ``save_model`` would write."""
    return tio.model_meta(model or tiny_model())


def write_npz(path: Path, meta: Any, arrays: dict[str, np.ndarray]) -> Path:
    """An ``.npz`` with ``meta`` (a dict or a raw JSON string) and ``arrays``, unchecked."""
    text = meta if isinstance(meta, str) else json.dumps(meta)
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(text), **arrays)
    return path


def write_entries(path: Path, entries: list[tuple[str, bytes]], deflate: bool = False) -> Path:
    """A zip archive of raw ``(name, bytes)`` entries, duplicates allowed."""
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (pickle allowed, to build hostile entries)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def good_entries(model: Sequential | None = None) -> list[tuple[str, bytes]]:
    """The entries of a valid model file, as ``(name, bytes)``."""
    meta, arrays = parts(model)
    entries = [("meta.npy", npy_bytes(np.array(json.dumps(meta))))]
    return entries + [(f"{key}.npy", npy_bytes(value)) for key, value in arrays.items()]


def declare_size(path: Path, entry: str, size: int) -> Path:
    """Rewrite the inflated size the zip listing declares for ``entry`` (central directory)."""
    data = bytearray(path.read_bytes())
    name = entry.encode()
    at = 0
    while True:
        at = data.find(b"PK\x01\x02", at)
        if at < 0:
            raise AssertionError(f"{entry} not in the central directory")
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name:
            struct.pack_into("<I", data, at + 24, size)
            path.write_bytes(bytes(data))
            return path
        at += 4


def deflate_bomb(path: Path, inflated: int) -> Path:
    """A valid model file plus an unused deflated entry of ``inflated`` zero bytes."""
    entries = good_entries()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        info = zipfile.ZipInfo("junk.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(inflated >> 20):
                f.write(chunk)
    return path


def edited(path: Path, edit: Callable[[dict[str, Any], dict[str, np.ndarray]], Any]) -> Path:
    """A model file whose meta and arrays went through ``edit`` (which changes them in place;
    a returned string replaces the JSON text)."""
    meta, arrays = parts()
    text = edit(meta, arrays)
    return write_npz(path, text if isinstance(text, str) else meta, arrays)


# --- hypothesis's JSON documents and edits to them (the model-file and grid/checkpoint fuzz tests)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.sampled_from([0, 1, -1, 2**31, 2**63, 10**100])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["Conv2D", "Dense", "relu", "same", "float64", "w000", "<b>x</b>"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


def json_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (a tuple of keys and indices) into a JSON document."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += json_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += json_paths(value, (*prefix, i))
    return found


def json_replace(node: Any, path: tuple, value: Any) -> Any:
    """``node`` with the value at ``path`` (from :func:`json_paths`) replaced by ``value``."""
    if not path:
        return value
    node[path[0]] = json_replace(node[path[0]], path[1:], value)
    return node
