"""Model files: one ``.npz`` with the weights plus JSON for the architecture and training config.

A model file is a zip archive (``np.savez``) holding

- ``meta``: a 0-d string array (``np.array(json_text)``, dtype ``<U``) with the JSON document
  ``{"format": "tinycnn-model", "format_version": 1, "tinycnn_version": ...,
  "architecture": model.get_config(), "weights": [{"key", "name", "shape", "dtype"}, ...],
  "training_config": {"optimizer": ..., "loss": ..., "metrics": ...} or null}``;
- ``w000``, ``w001``, ...: the weight arrays in ``model.get_weights()`` order (Keras order).

Training checkpoints (``tinycnn.saving.checkpoint``) use the same layout with ``"format":
"tinycnn-checkpoint"`` and extra entries, so ``load_model`` opens them too.

Safety and robustness
---------------------
- Reading never unpickles: every entry's ``.npy`` header is inspected first and an entry holding
  Python objects is refused before its data is read (``allow_pickle=False`` throughout), so
  opening a file cannot run code.
- Writes are atomic: the archive is written to a temporary file in the same folder, flushed and
  ``fsync``-ed, then renamed over the final name with ``os.replace``. A crash or ``kill -9``
  mid-write leaves the previous file (or none) under the final name, never half a file; the
  stray ``.<name>.<pid>.*.tmp`` file it leaves is removed by the next save to that name.
- Reading trusts nothing in the file (``tinycnn.saving.validate`` lists every check, in the
  order they run): limits on the number of entries, their inflated size and the JSON's nesting,
  checked before decompressing or allocating; exactly the entries the JSON lists; weight dtypes
  exactly as declared (float32 or float64, never cast) and finite; layer names from a safe set
  (no markup can reach the draw-a-digit page); the weight shapes the architecture implies
  checked against the file's arrays before the model is built; weights at most
  ``MAX_WEIGHT`` in size and variances >= 0; at least one layer; no encrypted entry; entries
  inflating to at most 4 times the file's size plus 1 MiB, which bounds the cost of loading
  by the file's size (see ``tinycnn.saving.validate``).
- Refused with a ``ValueError`` that starts with the file's path: every case above, a file that
  is not a regular file or not a zip archive or is truncated or corrupt (the zip CRC is checked),
  an entry with pickled objects, a format version newer than this tinycnn reads, a file of
  another kind, and (``load_weights``) weights of a different architecture than the given model.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tinycnn._version import __version__
from tinycnn.layers.base import MAX_WEIGHT
from tinycnn.protocol import Model
from tinycnn.saving import validate
from tinycnn.saving.durable import atomic_write

FORMAT_VERSION = 1
MODEL_FORMAT = "tinycnn-model"
CHECKPOINT_FORMAT = "tinycnn-checkpoint"
READABLE_FORMATS = (MODEL_FORMAT, CHECKPOINT_FORMAT)
PathLike = str | os.PathLike


# -- writing --------------------------------------------------------------------------------
def atomic_savez(path: PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` at ``path``, atomically.

    The archive goes to a temporary file beside ``path``, is fsync-ed, and replaces ``path`` with
    ``os.replace``; the folder is fsync-ed too so the rename survives a power cut. The name is
    used exactly as given (no ``.npz`` is appended).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"{path}: folder {folder} does not exist")
    atomic_write(path, lambda file: np.savez(file, **arrays), "wb")  # type: ignore[arg-type]


def meta_array(meta: dict[str, Any]) -> np.ndarray:
    """The JSON document as a 0-d unicode array (dtype ``<U``), storable without pickle."""
    return np.array(json.dumps(meta, sort_keys=True))


def weight_entries(model: Model) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Descriptions and arrays of the model's weights, in ``get_weights`` order."""
    names = model.weight_names()
    weights = model.get_weights()
    assert len(names) == len(weights), "weight_names and get_weights disagree"
    entries, arrays = [], {}
    for i, (name, w) in enumerate(zip(names, weights, strict=True)):
        if not np.isfinite(np.sum(w, dtype=np.float64)) and not np.isfinite(w).all():
            raise ValueError(f"refusing to save weight {name}: it holds NaN or infinite values")
        if w.size and np.abs(w).max() > MAX_WEIGHT:  # no file that load_model would refuse
            raise ValueError(
                f"refusing to save weight {name}: it holds {float(np.abs(w).max()):g}, over "
                f"{MAX_WEIGHT:g} (training diverged?)"
            )
        key = f"w{i:03d}"
        entries.append({"key": key, "name": name, "shape": list(w.shape), "dtype": str(w.dtype)})
        arrays[key] = w
    return entries, arrays


def training_config(model: Model) -> dict[str, Any] | None:
    """What ``compile`` was given, as JSON, or None for a model that was never compiled."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    loss = getattr(model, "loss", None)
    return {
        "optimizer": {"class_name": type(optimizer).__name__, "config": optimizer.get_config()},
        "loss": type(loss).__name__ if loss is not None and not isinstance(loss, str) else loss,
        "metrics": list(getattr(model, "metrics", None) or ["accuracy"]),
    }


def model_meta(model: Model, kind: str = MODEL_FORMAT) -> tuple[dict[str, Any], dict]:
    """The ``meta`` document and the weight arrays shared by model files and checkpoints."""
    entries, arrays = weight_entries(model)
    meta = {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "tinycnn_version": __version__,
        "architecture": model.get_config(),
        "weights": entries,
        "training_config": training_config(model),
    }
    return meta, arrays


def save_model(model: Model, path: PathLike, history: Any = None) -> None:
    """Save ``model`` (architecture, weights, training config) to one ``.npz`` file, atomically.

    Parameters
    ----------
    model : Sequential
        A built model.
    path : str or PathLike
        Destination; written exactly under this name.
    history : History, optional
        The ``History`` that ``fit`` returned; stored (as ``History.to_dict()``) under the
        ``"history"`` entry of the JSON, so ``tinycnn plot curves model.npz`` can draw it.
    """
    meta, arrays = model_meta(model)
    if history is not None:
        meta["history"] = history.to_dict()
    atomic_savez(path, {"meta": meta_array(meta), **arrays})


# -- reading --------------------------------------------------------------------------------
def read_npz(path: PathLike) -> dict[str, np.ndarray]:
    """Every entry of an ``.npz`` file, read without ever unpickling, within the size limits.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a regular file, not a zip archive, truncated, corrupt (bad CRC), over the limits of
        ``tinycnn.saving.validate``, or an entry holds Python objects.
    """
    with _open_archive(path) as (archive, infos):
        return {name: _read_entry(archive, info, path) for name, info in infos.items()}


def read_file(
    path: PathLike, classes: Mapping[str, type] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checked ``meta`` document and exactly the entries it lists (model or checkpoint).

    ``classes``: the layer classes a file may name (default tinycnn's own).

    The ``meta`` entry is read and checked first; an entry it does not list is refused before
    its data is read (see ``tinycnn.saving.validate`` for every check, in order).
    """
    with _open_archive(path) as (archive, infos):
        if "meta" not in infos:
            raise ValueError(f"{path}: missing the 'meta' entry; not a tinycnn model file")
        meta = read_meta(path, {"meta": _read_entry(archive, infos["meta"], path)})
        validate.check_meta(path, meta, classes)
        validate.check_entry_names(path, set(infos), validate.expected_entries(path, meta))
        arrays = {
            name: _read_entry(archive, info, path) for name, info in infos.items() if name != "meta"
        }
    return meta, arrays


@contextmanager
def _open_archive(path: PathLike) -> Iterator[tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]]:
    """The open archive and its checked listing; zip and OS errors become ValueErrors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file (a folder, FIFO or device)")
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive, validate.check_listing(path, archive, path.stat().st_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        raise ValueError(
            f"{path}: not a readable tinycnn file (truncated or corrupt: {error})"
        ) from None


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: PathLike) -> np.ndarray:
    """One ``.npy`` entry; its header is checked (dtype, size) before any data is read."""
    name = info.filename
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = header(f)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as error:
            raise ValueError(f"{path}: entry {name!r} is not a NumPy array ({error})") from None
        nbytes = validate.check_entry_header(path, name, shape, dtype, info.file_size - f.tell())
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):
            raise ValueError(f"{path}: entry {name!r} has the wrong size (corrupt file)")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def read_meta(path: PathLike, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The parsed ``meta`` document of a tinycnn file (format and version checked)."""
    if "meta" not in arrays:
        raise ValueError(f"{path}: missing the 'meta' entry; not a tinycnn model file")
    text = arrays["meta"]
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ValueError(f"{path}: 'meta' entry is not a JSON string (got {text.dtype})")
    meta = validate.parse_json(path, str(text))
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{path}: not a tinycnn model file (format {str(found)[:40]!r})")
    version = meta.get("format_version")
    if type(version) is not int:
        raise ValueError(f"{path}: 'meta' has no integer format_version")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: written by a newer tinycnn (file format version {version}, this tinycnn "
            f"{__version__} reads up to {FORMAT_VERSION}); upgrade tinycnn to open it"
        )
    for key in ("architecture", "weights"):
        if key not in meta:
            raise ValueError(f"{path}: 'meta' is missing {key!r}")
    return meta


def read_weights(path: PathLike, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> list:
    """The weight arrays listed in ``meta`` (checked by :func:`read_file`): shapes as recorded,
    dtypes as declared, finite."""
    weights = []
    for entry in meta["weights"]:
        key = entry["key"]
        if key not in arrays:
            raise ValueError(f"{path}: missing weight entry {key!r} ({entry['name']})")
        if list(arrays[key].shape) != list(entry["shape"]):
            raise ValueError(
                f"{path}: weight {entry['name']} has shape {arrays[key].shape}, the file's "
                f"description says {tuple(entry['shape'])} (corrupt file)"
            )
        weights.append(arrays[key])
    validate.check_weights(path, meta, weights)
    return weights


def load_weights(model: Model, path: PathLike) -> None:
    """Load the weights of a model file into ``model``, which must have the same architecture.

    Raises
    ------
    ValueError
        When the file's layers or weight shapes differ from ``model``'s (message names both).
    """
    meta, arrays = read_file(path)
    weights = read_weights(path, meta, arrays)
    check_architecture(path, meta, model)
    model.set_weights(weights)


def _layer_signature(architecture: dict[str, Any]) -> list[str]:
    layers = architecture.get("layers", [])
    return [str(layer.get("class_name")) for layer in layers]


def check_architecture(path: PathLike, meta: dict[str, Any], model: Model) -> None:
    """Refuse weights whose names and shapes differ from the model's."""
    file_weights = [(e["name"], tuple(e["shape"])) for e in meta["weights"]]
    model_weights = [
        (name, w.shape) for name, w in zip(model.weight_names(), model.get_weights(), strict=True)
    ]
    file_layers = _layer_signature(meta["architecture"])
    model_layers = _layer_signature(model.get_config())
    if file_weights == model_weights and (not file_layers or file_layers == model_layers):
        return
    differences = [
        f"file {a[0]} {a[1]} vs model {b[0]} {b[1]}"
        for a, b in zip(file_weights, model_weights, strict=False)
        if a != b
    ]
    if len(file_weights) != len(model_weights):
        differences.append(f"file has {len(file_weights)} weights, model {len(model_weights)}")
    if file_layers != model_layers:
        differences.append(f"layers: file {file_layers} vs model {model_layers}")
    raise ValueError(f"{path}: saved for a different architecture ({'; '.join(differences[:3])})")
