"""Checks a model file must pass before tinycnn reads, allocates or builds anything from it.

A model file comes from anywhere (a download, a colleague, an attacker), so ``load_model``
trusts nothing in it. In the order they run:

1. **The zip listing** (:func:`check_listing`): at most ``MAX_ENTRIES`` entries, no name twice,
   every name ``<safe>.npy``, none encrypted, and the declared (inflated) sizes summing to at
   most ``MAX_TOTAL_BYTES`` and to at most ``MAX_INFLATION`` times the file's own size plus
   ``INFLATION_ALLOWANCE`` (the cost bound below). Nothing has been decompressed yet.
2. **Each entry's header** (:func:`check_entry_header`): a plain numeric or unicode dtype (never
   Python objects, records or sub-arrays), and a data size that is exactly what the zip listing
   declares and at most ``MAX_TOTAL_BYTES``. Only then is the data read.
3. **The JSON document** (:func:`check_meta`): parsed with a nesting limit, then every field used
   to build the model is checked for type and range: layer classes, layer names (the safe set
   of :data:`tinycnn.layers.base.SAFE_NAME`), input shape, weight entries.
4. **The entries present** (:func:`expected_entries`): exactly ``meta``, the weights listed and,
   in a checkpoint, the optimizer's entries; an unknown entry is refused before it is read.
5. **Declared sizes** (:func:`check_declared_shapes`): the weight shapes implied by the
   architecture are worked out without allocating (``output_shape`` is arithmetic) and must equal
   the shapes of the arrays in the file, so building the model allocates no more than the file
   holds.
6. **The weights** (:func:`check_weights`): dtype exactly as declared, float32 or float64, every
   value finite and at most ``tinycnn.layers.base.MAX_WEIGHT`` in size, a BatchNormalization
   moving variance >= 0.

Every failure is a ``ValueError`` whose message starts with the file's path.

The cost of loading is bounded by the file's size: with ``S`` bytes on disk the entries inflate
to at most ``I = 4 S + 1 MiB`` bytes; reading holds each entry's bytes and one copy of them, and
building the model allocates its fresh weights and the weights set into it, so the peak memory
is about ``5 I`` and the time linear in ``I`` (``tests/benchmarks/bench_load_cost.py`` measures
both; ``docs/benchmarks.md``). tinycnn writes its files uncompressed (inflation 1), and
``np.savez_compressed`` float weights shrink by far less than 4x, so no real file is refused.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_ENTRIES = 4096
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # inflated bytes of all entries together
MAX_INFLATION = 4  # inflated bytes per byte of the file ...
INFLATION_ALLOWANCE = 1024 * 1024  # ... plus this, for small files with a compressed meta
MAX_LAYERS = 256
MAX_SIDE = 65536  # largest input height, width or channel count
MAX_JSON_DEPTH = 64
MAX_META_BYTES = 16 * 1024 * 1024  # the JSON document (4 bytes a character in .npy)
ENTRY_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\.npy")
WEIGHT_DTYPES = ("float32", "float64")
OPTIMIZER_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")


def check_listing(
    path: Any, archive: zipfile.ZipFile, file_bytes: int | None = None
) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by name (without ``.npy``), after the listing's limits.

    ``file_bytes``: the file's size on disk, which bounds what its entries may inflate to.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ValueError(f"{path}: {len(infos)} entries in the archive; at most {MAX_ENTRIES}")
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if ENTRY_NAME.fullmatch(info.filename) is None:
            raise ValueError(f"{path}: unexpected entry name {info.filename[:80]!r}")
        if info.flag_bits & 0x1:
            raise ValueError(
                f"{path}: entry {info.filename!r} is encrypted (tinycnn files never are; "
                "decrypt the archive first)"
            )
        name = info.filename.removesuffix(".npy")
        if name in by_name:
            raise ValueError(f"{path}: entry {name!r} appears twice (refusing to pick one)")
        by_name[name] = info
    if "meta" in by_name and by_name["meta"].file_size > MAX_META_BYTES:
        raise ValueError(f"{path}: the 'meta' entry is over {MAX_META_BYTES:,} bytes")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise ValueError(
            f"{path}: the entries inflate to {total:,} bytes; at most {MAX_TOTAL_BYTES:,} "
            "(refused before decompressing)"
        )
    if file_bytes is not None and total > MAX_INFLATION * file_bytes + INFLATION_ALLOWANCE:
        raise ValueError(
            f"{path}: the entries inflate to {total:,} bytes from a file of {file_bytes:,}; at "
            f"most {MAX_INFLATION} times its size plus {INFLATION_ALLOWANCE:,} bytes (refused "
            "before decompressing, so loading costs no more than the file's size implies)"
        )
    return by_name


def check_entry_header(
    path: Any, name: str, shape: tuple[int, ...], dtype: np.dtype, data_bytes: int
) -> int:
    """The entry's data size in bytes, after checking its ``.npy`` header.

    ``data_bytes`` is what the zip listing says follows the header.
    """
    if dtype.hasobject:
        raise ValueError(
            f"{path}: refusing entry {name!r}: it holds pickled Python objects, and loading "
            "those could run arbitrary code (tinycnn files never contain any)"
        )
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biufcU":
        raise ValueError(f"{path}: entry {name!r} has unsupported dtype {dtype}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_TOTAL_BYTES or nbytes != data_bytes:
        raise ValueError(
            f"{path}: entry {name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) but "
            f"holds {data_bytes:,} bytes (corrupt file)"
        )
    return nbytes


def parse_json(path: Any, text: str) -> Any:
    """``json.loads`` with a nesting limit, numbers as Python ints/floats, no NaN/Infinity."""
    depth = _max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{path}: 'meta' JSON is nested {depth} deep; at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path}: 'meta' entry is not valid JSON ({error})") from None
    except ValueError as error:  # a constant, or an integer of over 4300 digits
        raise ValueError(f"{path}: 'meta' entry has an unusable value ({error})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _max_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text (brackets inside strings are ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_meta(path: Any, meta: dict[str, Any], classes: Mapping[str, type] | None = None) -> None:
    """Types and ranges of every field used to rebuild the model; layer class names must be
    among ``classes`` (tinycnn's layers and the caller's ``custom_objects``)."""
    from tinycnn.layers import LAYERS

    classes = LAYERS if classes is None else classes
    from tinycnn.layers.base import check_name

    architecture = _field(path, meta, "architecture", dict)
    layers = _field(path, architecture, "layers", list)
    if not layers:
        raise ValueError(f"{path}: the model has no layers (nothing to load)")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"{path}: {len(layers)} layers; at most {MAX_LAYERS}")
    for i, spec in enumerate(layers):
        name = spec.get("class_name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or name not in classes:
            found = spec.get("class_name") if isinstance(spec, dict) else spec
            hint = (
                f" (a layer of your own? pass custom_objects={{{found!r}: {found}}} to load_model)"
                if isinstance(found, str) and found.isidentifier() and len(found) <= 40
                else ""
            )
            raise ValueError(
                f"{path}: layer {i} has unknown class {str(found)[:40]!r}; "
                f"expected one of {sorted(classes)}{hint}"
            )
        config = _field(path, spec, "config", dict)
        try:
            check_name(config.get("name"))
        except ValueError as error:
            raise ValueError(f"{path}: layer {i}: {error}") from None
    shape = architecture.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and 1 <= len(shape) <= 3
        and all(type(d) is int and 1 <= d <= MAX_SIDE for d in shape)
    ):
        raise ValueError(
            f"{path}: input_shape must be 1 to 3 integers in 1..{MAX_SIDE}, got {str(shape)[:80]}"
        )
    _check_weight_list(path, _field(path, meta, "weights", list))
    _check_training_config(path, meta.get("training_config"))


def _field(path: Any, container: dict[str, Any], key: str, kind: type) -> Any:
    value = container.get(key)
    if not isinstance(value, kind):
        raise ValueError(
            f"{path}: 'meta' field {key!r} must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _check_weight_list(path: Any, weights: list[Any]) -> None:
    for i, entry in enumerate(weights):
        ok = (
            isinstance(entry, dict)
            and entry.get("key") == f"w{i:03d}"
            and isinstance(entry.get("name"), str)
            and re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}/[a-z_]{1,16}", entry["name"]) is not None
            and entry.get("dtype") in WEIGHT_DTYPES
            and isinstance(entry.get("shape"), list)
            and all(type(d) is int and d >= 0 for d in entry["shape"])
        )
        if not ok:
            raise ValueError(f"{path}: weight description {i} is malformed: {str(entry)[:120]}")


def _check_training_config(path: Any, config: Any) -> None:
    if config is None:
        return
    from tinycnn.optim import OPTIMIZERS

    optimizer = config.get("optimizer") if isinstance(config, dict) else None
    if not (
        isinstance(optimizer, dict)
        and str(optimizer.get("class_name", "")).lower() in OPTIMIZERS
        and isinstance(optimizer.get("config", {}), dict)
        and all(_is_setting(v) for v in optimizer["config"].values())
    ):
        raise ValueError(f"{path}: training_config has no usable optimizer: {str(config)[:120]}")


def _is_setting(value: Any) -> bool:
    """An optimizer setting: a flag, a finite number, or a learning-rate schedule's
    ``{"class_name", "config"}`` whose values are numbers, flags, None or lists of numbers."""
    if type(value) is bool or (type(value) in (int, float) and math.isfinite(value)):
        return True
    from tinycnn.optim.schedules import SCHEDULES

    if not (isinstance(value, dict) and value.get("class_name") in SCHEDULES):
        return False
    config = value.get("config", {})
    return isinstance(config, dict) and all(
        v is None or _is_setting(v) or (isinstance(v, list) and all(map(_is_setting, v)))
        for v in config.values()
    )


def expected_entries(path: Any, meta: dict[str, Any]) -> set[str]:
    """``meta``, the weight keys and (in a checkpoint) the optimizer entries."""
    names = {"meta"} | {entry["key"] for entry in meta["weights"]}
    state = meta.get("checkpoint")
    if state is not None:
        keys = state.get("optimizer_keys", []) if isinstance(state, dict) else None
        if not isinstance(keys, list) or not all(
            isinstance(k, str) and OPTIMIZER_KEY.fullmatch(k) for k in keys
        ):
            raise ValueError(f"{path}: checkpoint 'optimizer_keys' is malformed")
        names |= {f"opt_{key}" for key in keys}
    return names


def check_entry_names(path: Any, present: set[str], expected: set[str]) -> None:
    """Exactly the expected entries: none missing, none extra."""
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing:
        kind = "weight entry" if missing[0].startswith("w") else "entry"
        raise ValueError(
            f"{path}: missing {kind} {missing[0]!r} ({len(missing)} missing); not a complete "
            "tinycnn file"
        )
    if extra:
        raise ValueError(f"{path}: unexpected entries {extra[:5]} (refused before reading them)")


def check_declared_shapes(
    path: Any, meta: dict[str, Any], classes: Mapping[str, type] | None = None
) -> None:
    """The weight shapes the architecture implies must be the file's, before building."""
    from tinycnn.layers import LAYERS

    classes = LAYERS if classes is None else classes

    architecture = meta["architecture"]
    declared = [tuple(entry["shape"]) for entry in meta["weights"]]
    shape = architecture.get("input_shape")
    implied: list[tuple[int, ...]] = []
    try:
        layers = [classes[spec["class_name"]](**spec["config"]) for spec in architecture["layers"]]
        if shape is not None:
            shape = tuple(shape)
            for layer in layers:
                implied += param_shapes(layer, shape)
                shape = layer.output_shape(shape)
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, IndexError) as error:
        raise ValueError(f"{path}: cannot rebuild the architecture ({error})") from None
    if implied != declared:
        raise ValueError(
            f"{path}: the architecture implies weights of shapes {implied[:4]}, the file lists "
            f"{declared[:4]} (corrupt file)"
        )


def param_shapes(layer: Any, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The shapes ``layer.build(input_shape)`` would allocate, asked of the layer.

    tinycnn's own layers compute them without allocating; a layer of your own (or a subclass
    of one of ours, which may add weights) is built once on its own to find out.
    """
    from tinycnn.layers import LAYERS
    from tinycnn.layers.base import Layer

    if type(layer) in LAYERS.values():
        return [tuple(shape) for shape in layer.weight_shapes(input_shape)]
    return [tuple(shape) for shape in Layer.weight_shapes(layer, input_shape)]


def check_weights(path: Any, meta: dict[str, Any], weights: list[np.ndarray]) -> None:
    """Each weight's dtype is the declared float type, every value finite and at most
    ``MAX_WEIGHT`` in size; a moving variance is >= 0."""
    from tinycnn.layers.base import MAX_WEIGHT

    for entry, w in zip(meta["weights"], weights, strict=True):
        if w.dtype != np.dtype(entry["dtype"]):
            raise ValueError(
                f"{path}: weight {entry['name']} is {w.dtype}, the file's description says "
                f"{entry['dtype']} (refusing to cast)"
            )
        if not np.isfinite(w).all():
            bad = int(np.size(w) - np.count_nonzero(np.isfinite(w)))
            raise ValueError(f"{path}: weight {entry['name']} holds {bad} NaN or infinite values")
        if w.size and np.abs(w).max() > MAX_WEIGHT:
            raise ValueError(
                f"{path}: weight {entry['name']} holds {float(np.abs(w).max()):g}; weights must "
                f"be at most {MAX_WEIGHT:g} in size (a damaged file)"
            )
        if entry["name"].endswith("/moving_variance") and w.size and w.min() < 0:
            raise ValueError(
                f"{path}: weight {entry['name']} holds {float(w.min()):g}; a variance must be "
                ">= 0 (its square root would be NaN)"
            )


def check_optimizer_state(path: Any, state: dict[str, np.ndarray]) -> None:
    """Optimizer arrays: real numbers, finite."""
    for key, value in state.items():
        if value.dtype.kind not in "iuf" or not np.isfinite(value).all():
            raise ValueError(f"{path}: optimizer entry {key!r} is not finite real numbers")
