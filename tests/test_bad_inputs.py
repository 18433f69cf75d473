"""The bad-input corpus: what a hostile or careless user feeds tinycnn, and what must happen.

Every case is made by the test itself (nothing is checked in) and must end in a *clear error*
(the expected exception, a one-line message naming the file or argument; for the CLI exit status
2 and no traceback; for the server a 4xx JSON answer carrying the security headers) or a
*correct answer*. Areas: ``api`` (fit/evaluate/predict and their arguments), ``file`` (model
files, checkpoints, IDX files, pictures), ``cli`` (the ``tinycnn`` command, in process) and
``server`` (raw HTTP to a live server on 127.0.0.1). The tally by area and outcome is printed at
the end of the pytest run (see ``conftest.pytest_terminal_summary``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from badfiles import (
    declare_size,
    deflate_bomb,
    edited,
    good_entries,
    npy_bytes,
    tiny_model,
    write_entries,
    write_npz,
)
from helpers_train import small_mnist

from tinycnn.cli import main as cli_main
from tinycnn.data.idx import load_idx, save_idx
from tinycnn.data.mnist import read_mnist
from tinycnn.model import load_model
from tinycnn.optim import SGD
from tinycnn.saving.checkpoint import load_checkpoint
from tinycnn.saving.io import save_model
from tinycnn.serve.default_model import load_default_model
from tinycnn.serve.server import make_server
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import Callback

TALLY: dict[str, Counter] = {}
pytestmark = pytest.mark.timeout(120)  # a hang (a FIFO, a stuck socket) fails, not blocks
ERROR, ANSWER = "clear error", "correct answer"


@dataclass
class Case:
    area: str
    name: str
    run: Callable[[Any], str]  # takes the context, returns ERROR or ANSWER


CASES: list[Case] = []


def case(area: str, name: str) -> Callable:
    def register(run: Callable[[Any], str]) -> Callable:
        CASES.append(Case(area, name, run))
        return run

    return register


def refused(action: Callable[[], Any], *fragments: str, kind: type = ValueError) -> str:
    """``action`` raises ``kind`` with a one-line message holding every fragment."""
    with pytest.raises(kind) as info:
        action()
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return ERROR


# -- api ------------------------------------------------------------------------------------
DATA = small_mnist(n_train=96, n_test=8)[0]


def fresh() -> Any:
    return tiny_model()


def x_variant(kind: str) -> np.ndarray:
    x = DATA[0][:16].copy()
    if kind == "uint8":
        return (x * 255).astype(np.uint8)
    if kind == "int64":
        return (x * 255).astype(np.int64)
    if kind == "bool":
        return x > 0.5
    if kind == "complex":
        return x.astype(np.complex64)
    if kind == "strings":
        return np.full(x.shape, "a")
    if kind == "nan":
        x[3, 4, 4, 0] = np.nan
    elif kind == "+inf":
        x[15, 0, 0, 0] = np.inf
    elif kind == "-inf":
        x[0, 13, 13, 0] = -np.inf
    elif kind == "1e30":
        x[7, 5, 5, 0] = 1e30
    elif kind == "-1e30":
        x[7, 5, 5, 0] = -1e30
    elif kind == "empty":
        return x[:0]
    elif kind == "no channel":
        return x[..., 0]
    elif kind == "wrong size":
        return np.zeros((16, 28, 28, 1), np.float32)
    elif kind == "flat":
        return x.reshape(16, -1)
    elif kind == "one image":
        return x[0]
    return x


X_ERRORS = {
    "uint8": "dtype uint8",
    "int64": "dtype int64",
    "bool": "dtype bool",
    "complex": "dtype complex64",
    "strings": "dtype <U1",
    "nan": "NaN or infinite",
    "+inf": "NaN or infinite",
    "-inf": "NaN or infinite",
    "1e30": "1e+30",
    "-1e30": "1e+30",
    "empty": "at least one example",
    "no channel": "expected shape (N, 14, 14, 1)",
    "wrong size": "expected shape (N, 14, 14, 1)",
    "flat": "expected shape (N, 14, 14, 1)",
    "one image": "expected shape (N, 14, 14, 1)",
}
ENTRIES = {
    "fit": lambda m, x, y: m.fit(x, y, epochs=1, verbose=0),
    "evaluate": lambda m, x, y: m.evaluate(x, y),
    "predict": lambda m, x, y: m.predict(x),
    "predict_classes": lambda m, x, y: m.predict_classes(x),
}


def _x_case(entry: str, kind: str) -> None:
    def run(ctx: Any) -> str:
        x = x_variant(kind)
        y = DATA[1][: len(x)] if x.ndim else DATA[1][:1]
        return refused(lambda: ENTRIES[entry](fresh(), x, y), X_ERRORS[kind])

    case("api", f"{entry} x {kind}")(run)


for _entry in ENTRIES:
    for _kind in X_ERRORS:
        _x_case(_entry, _kind)


def y_variant(kind: str) -> tuple[np.ndarray, str]:
    y = DATA[1][:16].copy()
    onehot = np.eye(10, dtype=np.float32)[y]
    variants = {
        "label 10": (np.where(y == y[0], 10, y), "labels must be in 0..9"),
        "label -1": (np.where(y == y[0], -1, y), "labels must be in 0..9"),
        "label 200": (np.full(16, 200), "labels must be in 0..9"),
        "fractional": (y + 0.5, "integer class labels"),
        "float whole numbers": (y.astype(np.float64), "got dtype float64"),
        "nan labels": (np.full(16, np.nan), "integer class labels"),
        "bool labels": (y > 4, "integer class labels"),
        "string labels": (y.astype(str), "integer class labels"),
        "too few": (y[:10], "expected labels of shape (16,)"),
        "3-d": (onehot[:, :, None], "expected labels of shape (16,)"),
        "9 columns": (onehot[:, :9], "rows of 10 class probabilities"),
        "rows sum to 3": (onehot * 3, "row 0 sums to 3"),
        "rows sum to 0": (onehot * 0, "sums to 0"),
        "negative soft": (onehot - 0.05 + 0.05 * (onehot > 0), "non-negative"),
        "nan soft": (np.where(onehot > 0, np.nan, 0), "finite and non-negative"),
    }
    return variants[kind]


Y_KINDS = [
    "label 10", "label -1", "label 200", "fractional", "float whole numbers", "nan labels",
    "bool labels", "string labels", "too few", "3-d", "9 columns", "rows sum to 3", "rows sum to 0",
    "negative soft", "nan soft",
]  # fmt: skip


def _y_case(entry: str, kind: str) -> None:
    def run(ctx: Any) -> str:
        y, message = y_variant(kind)
        return refused(lambda: ENTRIES[entry](fresh(), DATA[0][:16], y), message)

    case("api", f"{entry} y {kind}")(run)


for _entry in ("fit", "evaluate"):
    for _kind in Y_KINDS:
        _y_case(_entry, _kind)


def _fit_case(name: str, kwargs: dict[str, Any], message: str) -> None:
    def run(ctx: Any) -> str:
        x, y = DATA[0][:16], DATA[1][:16]
        return refused(lambda: fresh().fit(x, y, verbose=0, **kwargs), message)

    case("api", f"fit {name}")(run)


X16, Y16 = DATA[0][:16], DATA[1][:16]
for _name, _kwargs, _message in [
    ("callbacks=[1]", {"callbacks": [1]}, "callbacks[0] is int"),
    ("callbacks=[None]", {"callbacks": [None]}, "callbacks[0] is NoneType"),
    ("callbacks=1", {"callbacks": 1}, "list of Callback"),
    ("callbacks=Callback()", {"callbacks": Callback()}, "got one Callback"),
    ("augment='yes'", {"augment": "yes"}, "augment must be True, False, None or an Augmenter"),
    ("augment=1.5", {"augment": 1.5}, "augment must be"),
    ("augment=Augmenter class", {"augment": Augmenter}, "augment must be"),
    ("epochs=0", {"epochs": 0}, "epochs must be a positive integer"),
    ("epochs=2.5", {"epochs": 2.5}, "epochs must be a positive integer"),
    ("batch_size=0", {"batch_size": 0}, "batch_size must be a positive integer"),
    ("batch_size=True", {"batch_size": True}, "batch_size must be a positive integer"),
    ("validation_split=1", {"validation_split": 1.0}, "validation_split must be in [0, 1)"),
    ("validation_split=-0.1", {"validation_split": -0.1}, "validation_split must be in"),
    ("split and data", {"validation_split": 0.2, "validation_data": (X16, Y16)}, "not both"),
    ("validation_data triple", {"validation_data": (X16, Y16, Y16)}, "a pair (x_val, y_val)"),
    (
        "validation_data NaN",
        {"validation_data": (np.full_like(X16, np.nan), Y16)},
        "validation_data x holds",
    ),
    (
        "validation_data label 11",
        {"validation_data": (X16, np.full(16, 11))},
        "validation_data y: labels must be in 0..9",
    ),
    (
        "validation_data uint8",
        {"validation_data": ((X16 * 255).astype(np.uint8), Y16)},
        "validation_data x has dtype uint8",
    ),
]:
    _fit_case(_name, _kwargs, _message)


@case("api", "fit uncompiled")
def _(ctx: Any) -> str:
    model = tiny_model()
    model.optimizer = None
    return refused(lambda: model.fit(X16, Y16, verbose=0), "not compiled")


@case("api", "predict batch_size 0")
def _(ctx: Any) -> str:
    return refused(lambda: fresh().predict(X16, batch_size=0), "batch_size must be")


@case("api", "predict float 0..255 pixels (in range) answers")
def _(ctx: Any) -> str:
    p = fresh().predict(X16 * 255)
    assert p.shape == (16, 10) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    return ANSWER


@case("api", "evaluate soft labels summing to 1 answers")
def _(ctx: Any) -> str:
    soft = np.full((16, 10), 0.1, np.float32)
    loss, accuracy = fresh().evaluate(X16, soft)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    return ANSWER


@case("api", "fit soft labels trains")
def _(ctx: Any) -> str:
    soft = np.full((16, 10), 0.1, np.float32)
    history = fresh().fit(X16, soft, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    return ANSWER


@case("api", "layer name with markup")
def _(ctx: Any) -> str:
    from tinycnn.layers import Dense

    return refused(lambda: Dense(3, name="<img src=x onerror=alert(1)>"), "is not allowed")


@case("api", "layer name set after construction")
def _(ctx: Any) -> str:
    from tinycnn.layers import Dense
    from tinycnn.model import Sequential

    layer = Dense(3)
    layer.name = "</script><script>alert(1)</script>"
    return refused(lambda: Sequential([layer]), "is not allowed")


@case("api", "save_model with NaN weights")
def _(ctx: Any) -> str:
    model = tiny_model()
    model.layers[0].params["w"][0, 0, 0, 0] = np.nan
    path = ctx.tmp / "nan.npz"
    refused(lambda: save_model(model, path), "refusing to save weight conv2d/w")
    assert not path.exists()
    return ERROR


@case("api", "save_model with a weight of 1e11")
def _(ctx: Any) -> str:
    model = tiny_model()
    model.layers[0].params["w"][0, 0, 0, 0] = 1e11
    path = ctx.tmp / "big.npz"
    refused(lambda: save_model(model, path), "refusing to save weight conv2d/w", "over 1e+10")
    assert not path.exists()
    return ERROR


# -- file -----------------------------------------------------------------------------------
def refused_file(path: Path, *fragments: str, loader: Callable = load_model) -> str:
    """Loading ``path`` raises a ValueError that starts with the path."""
    refused(lambda: loader(path), str(path), *fragments)
    return ERROR


def _file_case(name: str, make: Callable[[Path], Path], *fragments: str) -> None:
    def run(ctx: Any) -> str:
        return refused_file(make(ctx.tmp / "bad.npz"), *fragments)

    case("file", name)(run)


def _meta_edit(change: Callable[[dict, dict], Any]) -> Callable[[Path], Path]:
    return lambda path: edited(path, change)


def _set(obj: dict, key: str, value: Any) -> None:
    obj[key] = value


def _layer(i: int) -> Callable[[dict], dict]:
    return lambda meta: meta["architecture"]["layers"][i]


def _deep(n: int) -> Callable[[dict, dict], str]:
    def change(meta: dict, arrays: dict) -> str:
        return json.dumps(meta)[:-1] + ', "x": ' + "[" * n + "]" * n + "}"

    return change


FILE_CASES: list[tuple[str, Callable[[Path], Path], tuple[str, ...]]] = [
    ("empty file", lambda p: (p.write_bytes(b""), p)[1], ("not a readable tinycnn file",)),
    ("text file", lambda p: (p.write_text("hello"), p)[1], ("not a readable",)),
    ("random bytes", lambda p: (p.write_bytes(os.urandom(4096)), p)[1], ("not a readable",)),
    ("a .npy, not .npz", lambda p: (p.write_bytes(npy_bytes(np.zeros(3))), p)[1], ("not a",)),
    ("pickled entry", lambda p: write_entries(
        p, [*good_entries()[:1], ("w000.npy", npy_bytes(np.array([{}], dtype=object))),
            *good_entries()[2:]]
    ), ("pickled Python objects",)),
    ("duplicate entry", lambda p: write_entries(p, [*good_entries(), good_entries()[1]]),
     ("appears twice",)),
    ("unused extra entry", lambda p: write_entries(
        p, [*good_entries(), ("extra.npy", npy_bytes(np.zeros(4)))]
    ), ("unexpected entries ['extra']",)),
    ("entry outside .npy names", lambda p: write_entries(
        p, [*good_entries(), ("../../etc/passwd", b"x")]
    ), ("unexpected entry name",)),
    ("4,097 entries", lambda p: write_entries(
        p, [(f"e{i}.npy", b"") for i in range(4097)]
    ), ("4097 entries",)),
    ("declares 1 GiB inflated", lambda p: declare_size(
        write_entries(p, [*good_entries(), ("junk.npy", b"0" * 64)], deflate=True),
        "junk.npy", 1 << 30,
    ), ("inflate to", "refused before decompressing")),
    ("meta declares 1 GiB", lambda p: declare_size(
        write_entries(p, good_entries(), deflate=True), "meta.npy", 1 << 30
    ), ("over",)),
    ("no meta", lambda p: write_entries(p, good_entries()[1:]), ("missing the 'meta' entry",)),
    ("meta not a string", lambda p: write_entries(
        p, [("meta.npy", npy_bytes(np.zeros(3))), *good_entries()[1:]]
    ), ("not a JSON string",)),
    ("meta invalid JSON", _meta_edit(lambda m, a: "{not json"), ("not valid JSON",)),
    ("meta JSON list", _meta_edit(lambda m, a: "[1, 2]"), ("not a tinycnn model file",)),
    ("JSON nested 100,000 deep", _meta_edit(_deep(100_000)), ("nested 100001 deep",)),
    ("JSON nested 65 deep", _meta_edit(_deep(64)), ("nested 65 deep",)),
    ("5,000-digit number", _meta_edit(
        lambda m, a: json.dumps(m)[:-1] + ', "n": ' + "9" * 5000 + "}"
    ), ("unusable value",)),
    ("NaN constant", _meta_edit(lambda m, a: json.dumps(m)[:-1] + ', "n": NaN}'),
     ("NaN is not allowed",)),
    ("other format", _meta_edit(lambda m, a: _set(m, "format", "keras")), ("format 'keras'",)),
    ("newer version", _meta_edit(lambda m, a: _set(m, "format_version", 99)), ("newer tinycnn",)),
    ("version as string", _meta_edit(lambda m, a: _set(m, "format_version", "1")),
     ("integer format_version",)),
    ("version true", _meta_edit(lambda m, a: _set(m, "format_version", True)),
     ("integer format_version",)),
    ("architecture a list", _meta_edit(lambda m, a: _set(m, "architecture", [])),
     ("'architecture' must be a dict",)),
    ("no weights list", _meta_edit(lambda m, a: m.pop("weights")), ("missing 'weights'",)),
    ("layers a string", _meta_edit(lambda m, a: _set(m["architecture"], "layers", "conv")),
     ("'layers' must be a list",)),
    ("unknown layer class", _meta_edit(lambda m, a: _set(_layer(1)(m), "class_name", "Lambda")),
     ("unknown class 'Lambda'",)),
    ("class_name a list", _meta_edit(lambda m, a: _set(_layer(3)(m), "class_name", [])),
     ("unknown class",)),  # found by the fuzz test: an unhashable class name
    ("class_name __class__", _meta_edit(
        lambda m, a: _set(_layer(1)(m), "class_name", "__class__")
    ), ("unknown class",)),
    ("layer config a list", _meta_edit(lambda m, a: _set(_layer(1)(m), "config", [])),
     ("'config' must be a dict",)),
    ("unknown layer argument", _meta_edit(lambda m, a: _set(_layer(1)(m)["config"], "evil", 1)),
     ("cannot rebuild the architecture",)),
    ("pool_size a string", _meta_edit(lambda m, a: _set(_layer(1)(m)["config"], "pool_size", "x")),
     ("cannot rebuild the architecture",)),
    ("name with markup", _meta_edit(
        lambda m, a: _set(_layer(0)(m)["config"], "name", "<img src=x onerror=alert(1)>")
    ), ("layer 0", "is not allowed")),
    ("name with a path", _meta_edit(
        lambda m, a: _set(_layer(0)(m)["config"], "name", "../../etc")
    ), ("is not allowed",)),
    ("name 65 characters", _meta_edit(
        lambda m, a: _set(_layer(0)(m)["config"], "name", "a" * 65)
    ), ("is not allowed",)),
    ("name a number", _meta_edit(lambda m, a: _set(_layer(0)(m)["config"], "name", 7)),
     ("is not allowed",)),
    ("input_shape terabytes", _meta_edit(
        lambda m, a: _set(m["architecture"], "input_shape", [60000, 60000, 60000])
    ), ("the architecture implies weights",)),
    ("input_shape 10**9", _meta_edit(
        lambda m, a: _set(m["architecture"], "input_shape", [10**9, 14, 1])
    ), ("input_shape must be",)),
    ("input_shape 0", _meta_edit(lambda m, a: _set(m["architecture"], "input_shape", [0, 14, 1])),
     ("input_shape must be",)),
    ("input_shape strings", _meta_edit(
        lambda m, a: _set(m["architecture"], "input_shape", ["14", 14, 1])
    ), ("input_shape must be",)),
    ("input_shape 4-d", _meta_edit(
        lambda m, a: _set(m["architecture"], "input_shape", [1, 14, 14, 1])
    ), ("input_shape must be",)),
    ("Dense units 10**12", _meta_edit(lambda m, a: _set(_layer(3)(m)["config"], "units", 10**12)),
     ("the architecture implies weights",)),
    ("Conv filters 10**9", _meta_edit(
        lambda m, a: _set(_layer(0)(m)["config"], "filters", 10**9)
    ), ("the architecture implies weights",)),
    ("Conv kernel 10**6", _meta_edit(
        lambda m, a: _set(_layer(0)(m)["config"], "kernel_size", [10**6, 10**6])
    ), ("cannot rebuild the architecture",)),
    ("weight description missing key", _meta_edit(lambda m, a: _set(m["weights"][0], "key", None)),
     ("weight description 0 is malformed",)),
    ("weight keys out of order", _meta_edit(
        lambda m, a: m["weights"].reverse()
    ), ("is malformed",)),
    ("weight dtype complex64", _meta_edit(
        lambda m, a: _set(m["weights"][0], "dtype", "complex64")
    ), ("is malformed",)),
    ("weight shape negative", _meta_edit(lambda m, a: _set(m["weights"][1], "shape", [-2])),
     ("is malformed",)),
    ("weight name with markup", _meta_edit(
        lambda m, a: _set(m["weights"][0], "name", "<b>x</b>/w")
    ), ("is malformed",)),
    ("weights bool", _meta_edit(lambda m, a: _set(a, "w000", a["w000"] > 0)),
     ("conv2d/w is bool", "refusing to cast")),
    ("weights int32", _meta_edit(lambda m, a: _set(a, "w000", a["w000"].astype(np.int32))),
     ("is int32",)),
    ("weights uint8", _meta_edit(lambda m, a: _set(a, "w002", a["w002"].astype(np.uint8))),
     ("is uint8",)),
    ("weights complex", _meta_edit(lambda m, a: _set(a, "w000", a["w000"].astype(np.complex64))),
     ("is complex64",)),
    ("weights float16", _meta_edit(lambda m, a: _set(a, "w000", a["w000"].astype(np.float16))),
     ("is float16",)),
    ("weights float64 declared float32", _meta_edit(
        lambda m, a: _set(a, "w000", a["w000"].astype(np.float64))
    ), ("is float64",)),
    ("NaN weight", _meta_edit(lambda m, a: a["w000"].flat.__setitem__(0, np.nan)),
     ("conv2d/w holds 1 NaN or infinite values",)),
    ("inf bias", _meta_edit(lambda m, a: a["w003"].fill(np.inf)),
     ("dense/b holds 10 NaN or infinite values",)),
    ("weight shape differs", _meta_edit(lambda m, a: _set(a, "w001", np.zeros(3, np.float32))),
     ("has shape (3,)",)),
    ("structured dtype entry", _meta_edit(
        lambda m, a: _set(a, "w001", np.zeros(2, dtype=[("a", "f4")]))
    ), ("unsupported dtype",)),
    ("unknown optimizer", _meta_edit(
        lambda m, a: _set(m["training_config"]["optimizer"], "class_name", "os.system")
    ), ("no usable optimizer",)),
    ("optimizer setting a string", _meta_edit(
        lambda m, a: _set(m["training_config"]["optimizer"]["config"], "learning_rate", "x")
    ), ("no usable optimizer",)),
    ("optimizer unknown setting", _meta_edit(
        lambda m, a: _set(m["training_config"]["optimizer"]["config"], "evil", 1)
    ), ("cannot rebuild the optimizer",)),
    ("training_config a string", _meta_edit(lambda m, a: _set(m, "training_config", "adam")),
     ("no usable optimizer",)),
]  # fmt: skip
for _name, _make, _fragments in FILE_CASES:
    _file_case(_name, _make, *_fragments)


def _truncated_case(keep: float) -> None:
    def run(ctx: Any) -> str:
        path = ctx.tmp / "cut.npz"
        save_model(tiny_model(), path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return refused_file(path)

    case("file", f"cut to {keep:.0%}")(run)


for _keep in (0.0005, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
    _truncated_case(_keep)


def _flipped_case(where: float) -> None:
    def run(ctx: Any) -> str:
        path = ctx.tmp / "flip.npz"
        model = tiny_model()
        save_model(model, path)
        data = bytearray(path.read_bytes())
        data[int(len(data) * where)] ^= 0xFF
        path.write_bytes(bytes(data))
        try:
            loaded = load_model(path)
        except ValueError as error:
            assert str(error).startswith(str(path)), error
            return ERROR
        # A byte the reader does not use (a zip timestamp): the same model, a correct answer.
        np.testing.assert_array_equal(loaded.predict(X16), model.predict(X16))
        return ANSWER

    case("file", f"byte flipped at {where:.0%}")(run)


for _where in (0.02, 0.3, 0.6, 0.97):
    _flipped_case(_where)


@case("file", "deflate bomb (inflates over the limit)")
def _(ctx: Any) -> str:
    from tinycnn.saving import validate

    path = deflate_bomb(ctx.tmp / "bomb.npz", 8 << 20)
    assert path.stat().st_size < 100_000
    limit = validate.MAX_TOTAL_BYTES
    validate.MAX_TOTAL_BYTES = 4 << 20  # the real limit, 512 MiB, scaled down to stay quick
    try:
        return refused_file(path, "refused before decompressing")
    finally:
        validate.MAX_TOTAL_BYTES = limit


@case("file", "a folder")
def _(ctx: Any) -> str:
    folder = ctx.tmp / "dir.npz"
    folder.mkdir()
    return refused_file(folder, "not a regular file")


@case("file", "a FIFO")
def _(ctx: Any) -> str:
    fifo = ctx.tmp / "fifo.npz"
    os.mkfifo(fifo)
    return refused_file(fifo, "not a regular file")


@case("file", "missing file")
def _(ctx: Any) -> str:
    return refused(lambda: load_model(ctx.tmp / "none.npz"), "no such file", kind=FileNotFoundError)


@case("file", "a valid model file loads")
def _(ctx: Any) -> str:
    model = tiny_model()
    save_model(model, ctx.tmp / "ok.npz")
    loaded = load_model(ctx.tmp / "ok.npz")
    np.testing.assert_array_equal(loaded.predict(X16), model.predict(X16))
    return ANSWER


def _checkpoint(ctx: Any) -> Path:
    path = ctx.tmp / "run.ckpt.npz"
    tiny_model().fit(X16, Y16, epochs=1, verbose=0, checkpoint=path, seed=0)
    return path


def _edit_checkpoint(path: Path, change: Callable[[dict, dict], Any]) -> Path:
    from tinycnn.saving.io import read_npz

    arrays = read_npz(path)
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    return write_npz(path, meta, arrays)


@case("file", "checkpoint resumed with SGD")
def _(ctx: Any) -> str:
    path = _checkpoint(ctx)
    model = tiny_model()
    model.compile(optimizer=SGD(0.1))
    return refused(
        lambda: model.fit(X16, Y16, epochs=2, verbose=0, resume=path),
        str(path), "Adam optimizer", "compiled with SGD",
    )  # fmt: skip


@case("file", "checkpoint with NaN Adam moment")
def _(ctx: Any) -> str:
    path = _edit_checkpoint(_checkpoint(ctx), lambda m, a: a["opt_m_0"].fill(np.nan))
    return refused_file(path, "optimizer entry 'm_0'", loader=load_checkpoint)


@case("file", "checkpoint missing an optimizer entry")
def _(ctx: Any) -> str:
    path = _edit_checkpoint(_checkpoint(ctx), lambda m, a: a.pop("opt_v_1"))
    return refused_file(path, "missing entry 'opt_v_1'", loader=load_checkpoint)


@case("file", "checkpoint optimizer_keys malformed")
def _(ctx: Any) -> str:
    path = _edit_checkpoint(
        _checkpoint(ctx), lambda m, a: _set(m["checkpoint"], "optimizer_keys", ["../x"])
    )
    return refused_file(path, "optimizer_keys", loader=load_checkpoint)


@case("file", "checkpoint state missing epoch")
def _(ctx: Any) -> str:
    path = _edit_checkpoint(_checkpoint(ctx), lambda m, a: m["checkpoint"].pop("epoch"))
    return refused_file(path, "missing 'epoch'", loader=load_checkpoint)


@case("file", "model file as a checkpoint")
def _(ctx: Any) -> str:
    save_model(tiny_model(), ctx.tmp / "m.npz")
    return refused_file(ctx.tmp / "m.npz", "not a training checkpoint", loader=load_checkpoint)


@case("file", "IDX: a folder")
def _(ctx: Any) -> str:
    return refused(lambda: load_idx(ctx.tmp), str(ctx.tmp), "not a regular file")


@case("file", "IDX: a FIFO (no hang)")
def _(ctx: Any) -> str:
    fifo = ctx.tmp / "labels.idx"
    os.mkfifo(fifo)
    return refused(lambda: load_idx(fifo), "not a regular file")


@case("file", "IDX: missing")
def _(ctx: Any) -> str:
    return refused(lambda: load_idx(ctx.tmp / "x.idx"), "no such file", kind=FileNotFoundError)


@case("file", "IDX: empty")
def _(ctx: Any) -> str:
    (ctx.tmp / "e.idx").write_bytes(b"")
    return refused(lambda: load_idx(ctx.tmp / "e.idx"), "the file is empty")


@case("file", "IDX: gzip bomb header")
def _(ctx: Any) -> str:
    path = ctx.tmp / "big.idx"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 2**32 - 1))
    return refused(lambda: load_idx(path), "truncated data")


@case("file", "MNIST: label 200")
def _(ctx: Any) -> str:
    folder = ctx.tmp / "mnist"
    folder.mkdir()
    images = np.zeros((3, 28, 28), np.uint8)
    save_idx(folder / "train-images-idx3-ubyte", images)
    save_idx(folder / "t10k-images-idx3-ubyte", images)
    save_idx(folder / "train-labels-idx1-ubyte", np.array([1, 200, 3], np.uint8))
    save_idx(folder / "t10k-labels-idx1-ubyte", np.array([1, 2, 3], np.uint8))
    return refused(lambda: read_mnist(folder), "train-labels-idx1-ubyte", "label 200 at position 1")


def _png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width x height`` (74 bytes for any size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"")
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@case("file", "PNG declaring 100,000 x 100,000 pixels")
def _(ctx: Any) -> str:
    from tinycnn.data.pictures import preprocess_image

    path = _png(ctx.tmp / "bomb.png", 100_000, 100_000)
    assert path.stat().st_size < 100
    return refused(lambda: preprocess_image(path), str(path), "over the limit")


@case("file", "PNG declaring 6,000 x 6,000 pixels")
def _(ctx: Any) -> str:
    from tinycnn.data.pictures import preprocess_image

    path = _png(ctx.tmp / "big.png", 6000, 6000)
    return refused(lambda: preprocess_image(path), "over the limit")


@case("file", "PNG truncated")
def _(ctx: Any) -> str:
    from tinycnn.data.pictures import preprocess_image

    path = _png(ctx.tmp / "cut.png", 20, 20)
    path.write_bytes(path.read_bytes()[:40])
    return refused(lambda: preprocess_image(path), "not a readable image")


@case("file", "picture is a folder")
def _(ctx: Any) -> str:
    from tinycnn.data.pictures import preprocess_image

    return refused(lambda: preprocess_image(ctx.tmp), "not a regular file")


# -- cli ------------------------------------------------------------------------------------
def cli(*argv: str) -> tuple[int, str, str]:
    """Run ``tinycnn argv`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def cli_refused(*argv: str, fragment: str = "") -> str:
    """Exit status 2, one line on stderr naming the problem, and no work started."""
    status, out, err = cli(*argv)
    assert status == 2, (status, out, err)
    assert "Data:" not in out and "Epoch" not in out, out
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"tinycnn {argv[0]}: error: "), err
    assert fragment in err, (fragment, err)
    return ERROR


def _predict_file_case(name: str, make: Callable[[Path], Path]) -> None:
    def run(ctx: Any) -> str:
        bad = make(ctx.tmp / "bad.npz")
        digit = ctx.digit_png()
        return cli_refused("predict", bad, digit, fragment=str(bad))

    case("cli", f"predict with model file: {name}")(run)


for _name, _make, _ in FILE_CASES:
    _predict_file_case(_name, _make)


@case("cli", "predict a PNG bomb")
def _(ctx: Any) -> str:
    save_model(load_default_model(), ctx.tmp / "m.npz")
    bomb = _png(ctx.tmp / "bomb.png", 100_000, 100_000)
    return cli_refused("predict", ctx.tmp / "m.npz", bomb, fragment="over the limit")


@case("cli", "predict answers for a real digit")
def _(ctx: Any) -> str:
    status, out, err = cli("predict", ctx.default_model_file(), ctx.digit_png())
    assert status == 0 and "%" in out and "nan" not in out, (out, err)
    return ANSWER


@case("cli", "train --out a folder (refused before loading data)")
def _(ctx: Any) -> str:
    return cli_refused("train", "--subset", "--out", ctx.tmp, fragment="is a folder")


@case("cli", "train --out in a missing folder")
def _(ctx: Any) -> str:
    return cli_refused("train", "--subset", "--out", ctx.tmp / "no" / "m.npz", fragment="does not")


@case("cli", "train --out unwritable (/proc)")
def _(ctx: Any) -> str:
    return cli_refused("train", "--subset", "--out", "/proc/m.npz", fragment="cannot write")


@case("cli", "train --checkpoint a folder")
def _(ctx: Any) -> str:
    return cli_refused(
        "train", "--subset", "--out", ctx.tmp / "m.npz", "--checkpoint", ctx.tmp,
        fragment="--checkpoint",
    )  # fmt: skip


@case("cli", "train --validation-split 2")
def _(ctx: Any) -> str:
    return cli_refused("train", "--subset", "--validation-split", "2", fragment="[0, 1)")


@case("cli", "plot --out a folder")
def _(ctx: Any) -> str:
    return cli_refused(
        "plot", "filters", ctx.default_model_file(), "--out", ctx.tmp, fragment="is a folder"
    )


@case("cli", "plot with a truncated model file")
def _(ctx: Any) -> str:
    bad = ctx.tmp / "cut.npz"
    bad.write_bytes(ctx.default_model_file().read_bytes()[:500])
    return cli_refused("plot", "filters", bad, "--out", ctx.tmp / "f.png", fragment=str(bad))


@case("cli", "evaluate a model file with markup names")
def _(ctx: Any) -> str:
    bad = edited(
        ctx.tmp / "x.npz", lambda m, a: _set(_layer(0)(m)["config"], "name", "<svg onload=x>")
    )
    return cli_refused("evaluate", bad, "--subset", fragment="is not allowed")


@case("cli", "serve a model file with NaN weights")
def _(ctx: Any) -> str:
    bad = edited(ctx.tmp / "x.npz", lambda m, a: a["w000"].fill(np.nan))
    return cli_refused("serve", bad, "--port", "0", fragment="NaN")


@case("cli", "--debug shows the traceback")
def _(ctx: Any) -> str:
    bad = ctx.tmp / "cut.npz"
    bad.write_bytes(b"PK")
    status, _, err = cli("--debug", "predict", bad, ctx.digit_png())
    assert status == 2 and "Traceback" in err and str(bad) in err
    status, _, err = cli("predict", bad, ctx.digit_png(), "--debug")
    assert status == 2 and "Traceback" in err
    return ERROR


@case("cli", "a bug: one line, exit 3, no traceback without --debug")
def _(ctx: Any) -> str:
    from tinycnn.cli import summary

    original = summary.run
    summary.run = lambda args: {}["boom"]  # a KeyError stands in for a bug
    try:
        status, _, err = cli("summary")
        assert status == 3 and "internal error" in err and "Traceback" not in err, err
        status, _, err = cli("--debug", "summary")
        assert status == 3 and "Traceback" in err
    finally:
        summary.run = original
    return ERROR


# -- server ---------------------------------------------------------------------------------
def http(ctx: Any, raw: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes to the server; (status, headers, body) of the answer."""
    data = b""
    with socket.create_connection(ctx.server.server_address[:2], timeout=30) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):  # after the answer, for an unread rest
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, headers, body


def post(body: bytes, extra: str = "", length: str | None = None) -> bytes:
    length = str(len(body)) if length is None else length
    return (
        f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


def server_refused(ctx: Any, raw: bytes, status: int, fragment: str = "") -> str:
    got, headers, body = http(ctx, raw)
    assert got == status, (got, body)
    assert headers.get("Content-Type") == "application/json", headers
    assert "script-src 'self'" in headers.get("Content-Security-Policy", ""), headers
    assert headers.get("X-Content-Type-Options") == "nosniff"
    message = json.loads(body)["error"]
    assert fragment in message, (fragment, message)
    return ERROR


def pixels(n: int = 28 * 28, value: Any = 0) -> list:
    """A 28x28 canvas holding a vertical stroke (a "1") of ``value``, or of 255 on black."""
    values = [value] * n
    for row in range(4, 24):
        values[row * 28 + 14] = 255 if value == 0 else value
    return values


def body(**fields: Any) -> bytes:
    request = {"width": 28, "height": 28, "pixels": pixels()}
    request.update(fields)
    return json.dumps(request).encode()


SERVER_CASES: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("JSON nested 1,000 deep", lambda: post(b"[" * 1000 + b"]" * 1000), 400, "JSON"),
    ("JSON nested 100,000 deep", lambda: post(b"[" * 100_000 + b"]" * 100_000), 400, "JSON"),
    ("5,000-digit number", lambda: post(body().replace(b'"width": 28', b'"width": ' + b"9" * 5000)),
     400, "malformed JSON"),
    ("5,000-digit pixel", lambda: post(
        body().replace(b"255", b"2" * 5000, 1)
    ), 400, "malformed JSON"),
    ("non-ASCII digit in Content-Length", lambda: post(b"{}", length="\u0663"), 400,
     "Content-Length"),
    ("superscript digit in Content-Length", lambda: post(b"{}", length="\u00b2"), 400,
     "Content-Length"),
    ("negative Content-Length", lambda: post(b"{}", length="-5"), 400, "Content-Length"),
    ("Content-Length 10**30", lambda: post(b"{}", length="1" + "0" * 30), 400, "Content-Length"),
    ("Content-Length too big", lambda: post(b"{}", length=str(10**8)), 413, "at most"),
    ("no Content-Length", lambda: post(b"{}").replace(b"Content-Length: 2\r\n", b""), 411, ""),
    ("chunked", lambda: post(b"{}", extra="Transfer-Encoding: chunked\r\n"), 411, ""),
    ("text/plain", lambda: post(b"{}").replace(b"application/json", b"text/plain"), 415, ""),
    ("not UTF-8", lambda: post(b"\xff\xfe{}"), 400, "UTF-8"),
    ("empty JSON object", lambda: post(b"{}"), 400, "missing field"),
    ("JSON list", lambda: post(b"[1]"), 400, "JSON object"),
    ("NaN pixel", lambda: post(body().replace(b"255", b"NaN", 1)), 400, ""),
    ("1e999 pixel", lambda: post(body().replace(b"255", b"1e999", 1)), 400, ""),
    ("pixel 256", lambda: post(body(pixels=pixels(value=256))), 400, "0..255"),
    ("pixel -1", lambda: post(body(pixels=pixels(value=-1))), 400, "0..255"),
    ("pixel string", lambda: post(body(pixels=pixels(value="1"))), 400, "numbers"),
    ("pixel true", lambda: post(body(pixels=pixels(value=True))), 400, "numbers"),
    ("width a float", lambda: post(body(width=28.0)), 400, "integer"),
    ("width 10**6", lambda: post(body(width=10**6)), 422, "width"),
    ("wrong pixel count", lambda: post(body(pixels=[0] * 10)), 422, "pixels"),
    ("blank canvas", lambda: post(body(pixels=[0] * 784)), 422, ""),
    ("unknown path", lambda: b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no such"),
    ("path traversal", lambda: b"GET /../../x HTTP/1.1\r\nHost: x\r\n\r\n", 404, ""),
    ("GET the API", lambda: b"GET /api/predict HTTP/1.1\r\nHost: x\r\n\r\n", 405, "POST"),
    ("POST the page", lambda: post(b"{}").replace(b"/api/predict", b"/"), 405, "GET"),
    ("DELETE", lambda: b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, ""),
    ("unknown method BREW", lambda: b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 405, ""),
    ("garbage request line", lambda: b"\x00\x01\x02 garbage\r\n\r\n", 400, ""),
    ("HTTP/9.9", lambda: b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, ""),
    ("request line 70 kB", lambda: b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, ""),
    ("header line 70 kB", lambda: b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431,
     ""),
    ("200 headers", lambda: b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431, ""),
]  # fmt: skip


def _server_case(name: str, make: Callable[[], bytes], status: int, fragment: str) -> None:
    def run(ctx: Any) -> str:
        if status >= 500:  # an HTTP version the server does not speak: 505 is the honest answer
            got, headers, _ = http(ctx, make())
            assert got == status and "Content-Security-Policy" in headers
            return ERROR
        return server_refused(ctx, make(), status, fragment)

    case("server", name)(run)


for _name, _make, _status, _fragment in SERVER_CASES:
    _server_case(_name, _make, _status, _fragment)


@case("server", "body shorter than declared (deadline)")
def _(ctx: Any) -> str:
    raw = post(b'{"width": 28', length="500")
    with socket.create_connection(ctx.server.server_address[:2], timeout=30) as sock:
        sock.sendall(raw)  # and wait, the connection open
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 408"), data[:100]
    return ERROR


@case("server", "HEAD /api/model")
def _(ctx: Any) -> str:
    status, headers, data = http(ctx, b"HEAD /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and data == b"" and int(headers["Content-Length"]) > 10
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    return ANSWER


@case("server", "HEAD /")
def _(ctx: Any) -> str:
    status, headers, data = http(ctx, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and data == b"" and headers["Content-Type"].startswith("text/html")
    return ANSWER


@case("server", "HEAD unknown path")
def _(ctx: Any) -> str:
    status, headers, data = http(ctx, b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 404 and data == b"" and "Content-Security-Policy" in headers
    return ERROR


@case("server", "a good drawing is answered")
def _(ctx: Any) -> str:
    drawing = [255 if 11 <= i % 28 <= 16 and 5 <= i // 28 <= 22 else 0 for i in range(28 * 28)]
    status, headers, data = http(ctx, post(body(pixels=drawing)))  # a thick "1", not a dot
    answer = json.loads(data)
    assert status == 200 and 0 <= answer["prediction"] <= 9
    assert "object-src 'none'" in headers["Content-Security-Policy"]
    return ANSWER


# -- issue 24: settings that train wrongly, NaN answers, BN, model files, checkpoints ------
NAN, INF = float("nan"), float("inf")


def _ctor_case(name: str, make: Callable[[], Any], *fragments: str) -> None:
    case("api", name)(lambda ctx: refused(make, *fragments))


def _settings_cases() -> list[tuple[str, Callable[[], Any], tuple[str, ...]]]:
    from tinycnn.layers import BatchNormalization
    from tinycnn.optim import SGD, Adam, CosineDecay, ExponentialDecay, PiecewiseConstantDecay
    from tinycnn.training.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

    made: list[tuple[str, Callable[[], Any], tuple[str, ...]]] = []

    def bad(owner: Callable, label: str, kwargs: dict[str, Any], argument: str) -> None:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        made.append((f"{label}({shown})", lambda: owner(**kwargs), (argument,)))

    for value in (NAN, INF, -1.0, 0.0, "x"):
        bad(
            ExponentialDecay,
            "ExponentialDecay",
            {"initial_learning_rate": value, "decay_steps": 10, "decay_rate": 0.5},
            "initial_learning_rate must be > 0",
        )
    for value in (INF, NAN, 0, -1, "x"):
        bad(
            ExponentialDecay,
            "ExponentialDecay",
            {"initial_learning_rate": 0.1, "decay_steps": value, "decay_rate": 0.5},
            "decay_steps must be > 0",
        )
    for value in (NAN, -0.5, 0):
        bad(
            ExponentialDecay,
            "ExponentialDecay",
            {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": value},
            "decay_rate must be > 0",
        )
    bad(
        ExponentialDecay,
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": "yes"},
        "staircase must be True or False",
    )
    for boundaries, values, fragment in [
        ([1.5], [0.1, 0.01], "each boundary must be >= 0 (an integer)"),
        ([-1], [0.1, 0.01], "each boundary must be >= 0"),
        ([INF], [0.1, 0.01], "each boundary must be"),
        ([5, 2], [0.1, 0.01, 0.001], "boundaries must increase"),
        ([5], [NAN, 0.01], "each value must be > 0"),
        ([5], [0.1, -0.01], "each value must be > 0"),
        ([5], [0.1, 0.0], "each value must be > 0"),
        ([5], [0.1], "expected 2 values for 1 boundaries"),
    ]:
        bad(
            PiecewiseConstantDecay,
            "PiecewiseConstantDecay",
            {"boundaries": boundaries, "values": values},
            fragment,
        )
    for kwargs, fragment in [
        ({"initial_learning_rate": 0, "decay_steps": 10}, "initial_learning_rate must be > 0"),
        ({"initial_learning_rate": -1, "decay_steps": 10}, "initial_learning_rate must be"),
        ({"initial_learning_rate": NAN, "decay_steps": 10}, "initial_learning_rate must be"),
        ({"initial_learning_rate": 0.1, "decay_steps": 0}, "decay_steps must be > 0"),
        ({"initial_learning_rate": 0.1, "decay_steps": INF}, "decay_steps must be > 0"),
        ({"initial_learning_rate": 0.1, "decay_steps": NAN}, "decay_steps must be > 0"),
        ({"initial_learning_rate": 0.1, "decay_steps": 9, "alpha": 1.5}, "alpha must be in"),
        ({"initial_learning_rate": 0.1, "decay_steps": 9, "alpha": -0.1}, "alpha must be in"),
        ({"initial_learning_rate": 0.1, "decay_steps": 9, "alpha": NAN}, "alpha must be in"),
        (
            {
                "initial_learning_rate": 0,
                "decay_steps": 9,
                "warmup_target": -1e-3,
                "warmup_steps": 5,
            },
            "warmup_target must be > 0",
        ),
        (
            {"initial_learning_rate": 0, "decay_steps": 9, "warmup_target": NAN, "warmup_steps": 5},
            "warmup_target must be > 0",
        ),
        (
            {"initial_learning_rate": 0, "decay_steps": 9, "warmup_target": INF, "warmup_steps": 5},
            "warmup_target must be > 0",
        ),
        (
            {
                "initial_learning_rate": 0,
                "decay_steps": 9,
                "warmup_target": 1e-3,
                "warmup_steps": -1,
            },
            "warmup_steps must be >= 0 (an integer)",
        ),
        (
            {
                "initial_learning_rate": 0,
                "decay_steps": 9,
                "warmup_target": 1e-3,
                "warmup_steps": 1.5,
            },
            "warmup_steps must be >= 0 (an integer)",
        ),
        (
            {
                "initial_learning_rate": 0,
                "decay_steps": 9,
                "warmup_target": 1e-3,
                "warmup_steps": INF,
            },
            "warmup_steps must be",
        ),
    ]:
        bad(CosineDecay, "CosineDecay", kwargs, fragment)
    for value in (INF, NAN, -1.0, 0.0, "x", True):
        bad(SGD, "SGD", {"learning_rate": value}, "learning_rate must be > 0")
    for value in (NAN, 1.0, -0.1, INF):
        bad(SGD, "SGD", {"momentum": value}, "momentum must be in [0, 1)")
    bad(SGD, "SGD", {"nesterov": "yes"}, "nesterov must be True or False")
    for value in (INF, NAN):
        bad(Adam, "Adam", {"learning_rate": value}, "learning_rate must be > 0")
    for key in ("beta_1", "beta_2"):
        for value in (NAN, 1.0, -0.1):
            bad(Adam, "Adam", {key: value}, f"{key} must be in [0, 1)")
    for value in (INF, NAN, 0.0, -1e-7):
        bad(Adam, "Adam", {"epsilon": value}, "epsilon must be > 0")
    for value in (-1, 1.5, INF, NAN, "3"):
        bad(EarlyStopping, "EarlyStopping", {"patience": value}, "patience must be >= 0")
    for value in (NAN, INF):
        bad(EarlyStopping, "EarlyStopping", {"min_delta": value}, "min_delta must be")
    bad(EarlyStopping, "EarlyStopping", {"restore_best_weights": "yes"}, "must be True or False")
    bad(EarlyStopping, "EarlyStopping", {"monitor": 3}, "monitor must be a metric name")
    for value in (-1, 1.5, INF):
        bad(ReduceLROnPlateau, "ReduceLROnPlateau", {"patience": value}, "patience must be >= 0")
    for value in (-1, 1.5):
        bad(ReduceLROnPlateau, "ReduceLROnPlateau", {"cooldown": value}, "cooldown must be >= 0")
    for value in (NAN, -1.0, INF):
        bad(ReduceLROnPlateau, "ReduceLROnPlateau", {"min_lr": value}, "min_lr must be")
    for value in (NAN, -1.0):
        bad(ReduceLROnPlateau, "ReduceLROnPlateau", {"min_delta": value}, "min_delta must be")
    for value in (1.0, 0.0, NAN, INF):
        bad(ReduceLROnPlateau, "ReduceLROnPlateau", {"factor": value}, "factor must be in (0, 1)")
    bad(
        ModelCheckpoint,
        "ModelCheckpoint",
        {"path": "m.npz", "save_best_only": "yes"},
        "save_best_only must be True or False",
    )
    for value in (INF, NAN, 0.0, -1.0):
        bad(BatchNormalization, "BatchNormalization", {"epsilon": value}, "epsilon must be > 0")
    for value in (NAN, 1.0, -0.5):
        bad(BatchNormalization, "BatchNormalization", {"momentum": value}, "momentum must be in")
    return made


for _name, _make, _fragments in _settings_cases():
    _ctor_case(_name, _make, *_fragments)


class _Returns:
    """A schedule of one's own that returns ``value`` at every step."""

    def __init__(self, value: float) -> None:
        from tinycnn.optim.schedules import LearningRateSchedule

        class Fixed(LearningRateSchedule):
            def __call__(self, step: int) -> float:
                return value

            def get_config(self) -> dict[str, Any]:
                return {}

        self.schedule = Fixed()


def _schedule_step_case(value: float) -> None:
    def run(ctx: Any) -> str:
        from tinycnn.optim import Adam

        model = tiny_model()
        model.compile(optimizer=Adam(_Returns(value).schedule))
        before = model.get_weights()
        refused(lambda: model.fit(X16, Y16, epochs=1, verbose=0), f"returned {value}", "step 0")
        for old, new in zip(before, model.get_weights(), strict=True):
            np.testing.assert_array_equal(old, new)  # refused before any update
        return ERROR

    case("api", f"a schedule returning {value} at a step")(run)


for _value in (-1e-3, NAN, INF):
    _schedule_step_case(_value)


@case("api", "learning_rate set to NaN by hand")
def _(ctx: Any) -> str:
    from tinycnn.optim import Adam

    optimizer = Adam()

    def assign() -> None:
        optimizer.learning_rate = NAN

    return refused(assign, "learning_rate must be > 0")


@case("api", "decay_steps=2.7 kept as 2.7 (as Keras)")
def _(ctx: Any) -> str:
    from tinycnn.optim import ExponentialDecay

    schedule = ExponentialDecay(0.1, 2.7, 0.5)
    assert schedule.get_config()["decay_steps"] == 2.7
    for step in (0, 1, 5, 27):
        assert schedule(step) == pytest.approx(0.1 * 0.5 ** (step / 2.7), rel=1e-12)
    return ANSWER


def bn_model(seed: int = 0, dense_first: bool = False) -> Any:
    """Conv(2)-BN-Pool-Flatten-Dense(10), or Flatten-Dense(4)-BN-Dense(10); 14x14 inputs."""
    from tinycnn.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPool2D
    from tinycnn.model import Sequential

    if dense_first:
        layers = [Flatten(), Dense(4, activation="relu"), BatchNormalization(), Dense(10)]
    else:
        layers = [Conv2D(2, 3, activation="relu"), BatchNormalization(), MaxPool2D(2), Flatten(),
                  Dense(10)]  # fmt: skip
    model = Sequential(layers, input_shape=(14, 14, 1), seed=seed)
    model.compile(optimizer="adam")
    return model


@case("api", "BatchNormalization trained with batch_size=1 after Dense")
def _(ctx: Any) -> str:
    model = bn_model(dense_first=True)
    before = model.get_weights()
    refused(
        lambda: model.fit(X16, Y16, epochs=1, batch_size=1, verbose=0),
        "batch_size=1", "one value per channel", "choose another batch_size",
    )  # fmt: skip
    np.testing.assert_array_equal(before[0], model.get_weights()[0])  # before any work
    return ERROR


@case("api", "BatchNormalization after Dense with a last batch of 1")
def _(ctx: Any) -> str:
    x, y = np.concatenate([X16, X16[:1]]), np.concatenate([Y16, Y16[:1]])
    return refused(
        lambda: bn_model(dense_first=True).fit(x, y, epochs=1, batch_size=8, verbose=0),
        "17 training examples in batches of 8 leave a last batch of 1",
    )  # fmt: skip


@case("api", "BatchNormalization forward in training on one value per channel")
def _(ctx: Any) -> str:
    from tinycnn.layers import BatchNormalization

    layer = BatchNormalization()
    layer.build((3,))
    return refused(lambda: layer.forward(np.ones((1, 3), np.float32), training=True),
                   "the variance of one value is 0")  # fmt: skip


@case("api", "BatchNormalization after Conv2D trains with batch_size=1 (H*W values)")
def _(ctx: Any) -> str:
    history = bn_model().fit(X16[:4], Y16[:4], epochs=1, batch_size=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    return ANSWER


def _set_weights_case(name: str, index: int, value: Any, *fragments: str) -> None:
    def run(ctx: Any) -> str:
        model = bn_model()
        weights = model.get_weights()
        before = [w.copy() for w in weights]
        weights[0] = weights[0] * 0  # a change the refusal must not let through
        weights[index] = np.full(weights[index].shape, value)
        refused(lambda: model.set_weights(weights), *fragments)
        for old, new in zip(before, model.get_weights(), strict=True):
            np.testing.assert_array_equal(old, new)
        return ERROR

    case("api", f"set_weights {name}")(run)


# bn_model's weights: conv w, b; BN gamma, beta, moving_mean, moving_variance; dense w, b.
for _name, _index, _value, _fragments in [
    ("NaN gamma", 2, NAN, ("'gamma' holds NaN",)),
    ("inf beta", 3, INF, ("'beta' holds NaN or infinite",)),
    ("moving variance -1", 5, -1.0, ("moving_variance must be >= 0",)),
    ("moving variance -epsilon", 5, -1e-3, ("moving_variance must be >= 0",)),
    ("moving mean 1e38", 4, 1e38, ("must be at most 1e+10",)),
    ("a kernel of 1e11", 6, 1e11, ("must be at most 1e+10",)),
    ("bias as strings", 7, "x", ("not real",)),
]:
    _set_weights_case(_name, _index, _value, *_fragments)


def overflowing_model() -> Any:
    """Finite weights (1e9, under the bound) whose products overflow float32 by layer 3."""
    from tinycnn.layers import Dense, Flatten
    from tinycnn.model import Sequential

    model = Sequential([Flatten(), Dense(8), Dense(8), Dense(8), Dense(10)],
                       input_shape=(14, 14, 1), seed=0)  # fmt: skip
    model.set_weights([np.full_like(w, 1e9) for w in model.get_weights()])
    model.compile(optimizer="adam")
    return model


for _entry in ("predict", "evaluate", "predict_classes"):
    case("api", f"{_entry}: finite weights, infinite output")(
        lambda ctx, entry=_entry: refused(
            lambda: ENTRIES[entry](overflowing_model(), X16, Y16),
            "output is not finite", "layer 4 (dense_3)",
        )
    )  # fmt: skip


@case("api", "Dense(10**9) in a model")
def _(ctx: Any) -> str:
    from tinycnn.layers import Dense, Flatten
    from tinycnn.model import Sequential

    return refused(lambda: Sequential([Flatten(), Dense(10**9)], input_shape=(14, 14, 1)),
                   "needs 197,000,000,000 weights", "over the limit")  # fmt: skip


@case("api", "Conv2D(10**8 filters) in a model")
def _(ctx: Any) -> str:
    from tinycnn.layers import Conv2D
    from tinycnn.model import Sequential

    return refused(lambda: Sequential([Conv2D(10**8, 3)], input_shape=(14, 14, 1)),
                   "over the limit")  # fmt: skip


for _name, _where, _fragment in [
    ("checkpoint='.'", lambda ctx: ".", "is a folder"),
    ("checkpoint in a missing folder", lambda ctx: ctx.tmp / "no" / "c.npz", "does not exist"),
    ("checkpoint unwritable (/proc)", lambda ctx: "/proc/c.npz", "cannot write"),
]:

    def _run(ctx: Any, where: Callable = _where, fragment: str = _fragment) -> str:
        model = tiny_model()
        before = model.get_weights()
        refused(lambda: model.fit(X16, Y16, epochs=1, verbose=0, checkpoint=where(ctx)), fragment)
        np.testing.assert_array_equal(before[0], model.get_weights()[0])  # no work was done
        return ERROR

    case("api", f"fit {_name}")(_run)


# -- files of issue 24 ----------------------------------------------------------------------
def edited_model(path: Path, model: Any, change: Callable[[dict, dict], Any]) -> Path:
    from badfiles import parts

    meta, arrays = parts(model)
    change(meta, arrays)
    return write_npz(path, meta, arrays)


BN_FILE_CASES = [
    ("moving variance -1", lambda m, a: a["w005"].fill(-1.0), "must be >= 0"),
    ("moving variance -epsilon", lambda m, a: a["w005"].fill(-1e-3), "must be >= 0"),
    ("moving mean 1e38", lambda m, a: a["w004"].fill(1e38), "at most 1e+10"),
    ("gamma 1e11", lambda m, a: a["w002"].fill(1e11), "at most 1e+10"),
    ("gamma NaN", lambda m, a: a["w002"].fill(np.nan), "NaN or infinite"),
]
for _name, _change, _fragment in BN_FILE_CASES:
    case("file", f"BatchNormalization file: {_name}")(
        lambda ctx, change=_change, fragment=_fragment: refused_file(
            edited_model(ctx.tmp / "bn.npz", bn_model(), change), fragment
        )
    )


@case("file", "a model file with no layers")
def _(ctx: Any) -> str:
    path = edited(
        ctx.tmp / "empty.npz",
        lambda m, a: (
            _set(m["architecture"], "layers", []),
            m.__setitem__("weights", []),
            a.clear(),
        ),
    )
    return refused_file(path, "has no layers")  # fmt: skip


def _encrypted(path: Path) -> Path:
    """A valid model file whose 'w000' entry is flagged encrypted (bit 0 of its flags)."""
    entries = good_entries()
    write_entries(path, entries)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature + b"")
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + 8] == b"w000.npy":
                data[at + offset] |= 0x01
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    return path


@case("file", "zip entry flagged encrypted")
def _(ctx: Any) -> str:
    return refused_file(_encrypted(ctx.tmp / "enc.npz"), "is encrypted")


@case("file", "deflated zeros inflating 60x the file (under the size limit)")
def _(ctx: Any) -> str:
    path = deflate_bomb(ctx.tmp / "ratio.npz", 8 << 20)  # 8 MiB from a few kB, under 512 MiB
    assert path.stat().st_size < 100_000
    return refused_file(path, "at most 4 times its size", "refused before decompressing")


@case("file", "np.savez_compressed of a real model loads")
def _(ctx: Any) -> str:
    from badfiles import parts

    model = tiny_model()
    meta, arrays = parts(model)
    with open(ctx.tmp / "z.npz", "wb") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)
    np.testing.assert_array_equal(load_model(ctx.tmp / "z.npz").predict(X16), model.predict(X16))
    return ANSWER


def _custom_classes() -> tuple[type, type]:
    from tinycnn.layers import Dense
    from tinycnn.layers.base import Layer

    class Scale(Layer):
        """A layer of one's own with weights: a learned scale per feature."""

        def build(self, input_shape: Any, rng: Any = None) -> None:
            super().build(input_shape)
            self.params = {"s": np.ones(input_shape[-1], np.float32)}
            self.grads = {"s": np.zeros(input_shape[-1], np.float32)}

        def forward(self, x: Any, training: bool = False) -> Any:
            return x * self.params["s"]

    class WideDense(Dense):
        """A subclass of a built-in layer."""

    return Scale, WideDense


def _custom_model() -> Any:
    from tinycnn.layers import Flatten
    from tinycnn.model import Sequential

    Scale, WideDense = _custom_classes()
    model = Sequential([Flatten(), Scale(), WideDense(10)], input_shape=(14, 14, 1), seed=0)
    model.layers[1].params["s"][:] = np.linspace(0.5, 1.5, 196)
    return model, {"Scale": Scale, "WideDense": WideDense}


@case("file", "custom layer with weights and a Dense subclass round-trip")
def _(ctx: Any) -> str:
    model, classes = _custom_model()
    model.save(str(ctx.tmp / "custom.npz"))
    loaded = load_model(ctx.tmp / "custom.npz", custom_objects=classes)
    np.testing.assert_array_equal(loaded.predict(X16), model.predict(X16))
    assert [type(layer).__name__ for layer in loaded.layers] == ["Flatten", "Scale", "WideDense"]
    return ANSWER


@case("file", "custom layer file without custom_objects")
def _(ctx: Any) -> str:
    model, _ = _custom_model()
    model.save(str(ctx.tmp / "custom.npz"))
    return refused_file(ctx.tmp / "custom.npz", "unknown class 'Scale'", "custom_objects")


@case("file", "custom layer file with a weight of the wrong shape")
def _(ctx: Any) -> str:
    model, classes = _custom_model()
    path = edited_model(
        ctx.tmp / "c.npz",
        model,
        lambda m, a: (_set(a, "w000", np.ones(5, np.float32)), _set(m["weights"][0], "shape", [5])),
    )
    return refused(lambda: load_model(path, custom_objects=classes), str(path),
                   "the architecture implies weights")  # fmt: skip


def _resumed(path: Path, batch_size: int = 64) -> Callable[[], Any]:
    return lambda: tiny_model().fit(
        X16, Y16, epochs=3, batch_size=batch_size, verbose=0, resume=path, seed=0
    )


def _mid_checkpoint(ctx: Any) -> Path:
    """A checkpoint at an epoch's end of a run with 2 batches (of 8) per epoch."""
    path = ctx.tmp / "mid.ckpt.npz"
    tiny_model().fit(X16, Y16, epochs=1, batch_size=8, verbose=0, checkpoint=path, seed=0)
    return path


def _state(key: str, value: Any) -> Callable[[dict, dict], Any]:
    return lambda m, a: _set(m["checkpoint"], key, value)


CHECKPOINT_CASES: list[tuple[str, Callable[[dict, dict], Any], str, bool]] = [
    # (name, edit, fragment, found only when resuming)
    ("step past the end", lambda m, a: m["checkpoint"].update(
        step=5, partial={"loss": 9.0, "correct": 1, "seen": 40}),
     "5 batches into an epoch of 2", True),
    ("step -1", _state("step", -1), "step must be an integer >= 0", False),
    ("step 1.5", _state("step", 1.5), "step must be an integer >= 0", False),
    ("epoch -1", _state("epoch", -1), "epoch must be an integer >= 0", False),
    ("epoch a string", _state("epoch", "1"), "epoch must be an integer", False),
    ("state a list", lambda m, a: _set(m, "checkpoint", [1]), "checkpoint", False),
    ("empty partial sums mid-epoch", lambda m, a: m["checkpoint"].update(step=1, partial={}),
     "partial sum 'loss'", False),
    ("zero partial sums mid-epoch", lambda m, a: m["checkpoint"].update(
        step=1, partial={"loss": 0.0, "correct": 0, "seen": 0}), "saw 0 examples", False),
    ("negative partial loss", lambda m, a: m["checkpoint"].update(
        step=1, partial={"loss": -1.0, "correct": 1, "seen": 8}), "partial sum 'loss'", False),
    ("partial sums of the wrong size", lambda m, a: m["checkpoint"].update(
        step=1, partial={"loss": 9.0, "correct": 1, "seen": 5}), "saw 5 examples", True),
    ("missing generator state", lambda m, a: m["checkpoint"]["generators"].pop("fit.shuffle"),
     "no state for the generator 'fit.shuffle'", False),
    ("garbage generator state", lambda m, a: _set(m["checkpoint"]["generators"], "fit.augment",
     {"bit_generator": "PCG64", "state": "x"}), "unusable state", False),
    ("generator of another kind", lambda m, a: _set(m["checkpoint"]["generators"], "fit.augment",
     {"bit_generator": "MT19937", "state": {}}), "not a PCG64 state", False),
    ("generator state a number", lambda m, a: _set(m["checkpoint"]["generators"],
     "fit.shuffle", 7), "unusable state", False),
    ("history a list", _state("history", [1, 2]), "history is malformed", False),
    ("history values strings", _state("history", {"history": {"loss": ["x"]}}),
     "history is malformed", False),
    ("history shorter than the position", _state("history", {"epoch": []}),
     "history has 0 epochs", True),
    ("fit_config a list", _state("fit_config", []), "fit_config must be a dict", False),
    ("callbacks garbage", _state("callbacks", [1]), "callbacks must be a list", False),
    ("missing step", lambda m, a: m["checkpoint"].pop("step"), "missing 'step'", False),
    ("missing generators", lambda m, a: m["checkpoint"].pop("generators"),
     "missing 'generators'", False),
]  # fmt: skip


def _checkpoint_case(name: str, change: Callable, fragment: str, on_resume: bool) -> None:
    def run(ctx: Any) -> str:
        path = _edit_checkpoint(_mid_checkpoint(ctx), change)
        if not on_resume:
            refused_file(path, fragment, loader=load_checkpoint)
        return refused(_resumed(path, batch_size=8), str(path), fragment)

    case("file", f"checkpoint {name}")(run)


for _name, _change, _fragment, _on_resume in CHECKPOINT_CASES:
    _checkpoint_case(_name, _change, _fragment, _on_resume)


for _name, _value in (("-1", -1), ("1.5", 1.5)):
    case("file", f"checkpoint optimizer iterations {_name}")(
        lambda ctx, value=_value: refused(
            _resumed(_edit_checkpoint(_mid_checkpoint(ctx), lambda m, a: _set(
                a, "opt_iterations", np.array(value))), batch_size=8),
            "mid.ckpt.npz: Adam state: iterations must be >= 0 (an integer)",
        )
    )  # fmt: skip


@case("file", "checkpoint with a ReduceLROnPlateau state of garbage")
def _(ctx: Any) -> str:
    from tinycnn.training.callbacks import ReduceLROnPlateau

    path = ctx.tmp / "r.ckpt.npz"
    tiny_model().fit(X16, Y16, epochs=1, verbose=0, checkpoint=path, seed=0,
                     callbacks=[ReduceLROnPlateau(monitor="loss")])  # fmt: skip
    _edit_checkpoint(
        path,
        lambda m, a: _set(
            m["checkpoint"]["callbacks"][0],
            "state",
            {"best": "x", "wait": -1, "cooldown_counter": 0},
        ),
    )

    def resume():
        return tiny_model().fit(
            X16,
            Y16,
            epochs=2,
            verbose=0,
            resume=path,
            seed=0,
            callbacks=[ReduceLROnPlateau(monitor="loss")],
        )

    return refused(resume, str(path), "best must be a number")  # fmt: skip


@case("file", "checkpoint edited within its fields resumes")
def _(ctx: Any) -> str:
    path = _mid_checkpoint(ctx)
    history = tiny_model().fit(X16, Y16, epochs=2, batch_size=8, verbose=0, resume=path, seed=0)
    assert len(history.epoch) == 2 and np.isfinite(history.history["loss"]).all()
    return ANSWER


# -- pictures of every mode -----------------------------------------------------------------
def digit_array(high: int, low: int = 0, dtype: Any = np.uint8) -> np.ndarray:
    """A 28x28 "1": a bar of ``high`` on ``low``."""
    image = np.full((28, 28), low, dtype)
    image[6:22, 13:16] = high
    return image


def mnist_one_16bit() -> np.ndarray:
    """The first "1" of the embedded test set as a 16-bit scan: dark ink on white paper
    (before issue 24, every level over 255 became white: read as a 0 at 50%)."""
    from tinycnn.data import load_mnist

    (_, _), (x, y) = load_mnist(subset=True)
    one = x[int(np.flatnonzero(y == 1)[0])][..., 0].astype(np.uint16) * 257  # 0..65535
    return (65535 - one).astype(np.uint16)


def _predicted(ctx: Any, path: Path) -> int:
    from tinycnn.data.pictures import preprocess_image

    return int(ctx.default_model().predict(preprocess_image(path)[None]).argmax())


PICTURES: list[tuple[str, Callable[[], Any]]] = [
    ("16-bit grey", lambda: _pil(digit_array(30000, dtype=np.uint16))),
    ("16-bit grey, dark ink on light", lambda: _pil(digit_array(2000, 50000, np.uint16))),
    ("16-bit scan of an MNIST 1, dark on light", lambda: _pil(mnist_one_16bit())),
    ("16-bit grey, full range", lambda: _pil(digit_array(65535, dtype=np.uint16))),
    ("32-bit integer grey (mode I)", lambda: _pil(digit_array(40000, dtype=np.int32))),
    ("32-bit float grey (mode F) in [0, 1]", lambda: _pil(digit_array(0.9, dtype=np.float32))),
    ("bilevel (mode 1)", lambda: _pil(digit_array(255)).convert("1")),
    ("palette (mode P)", lambda: _pil(digit_array(255)).convert("P")),
    ("grey with alpha (LA)", lambda: _pil(digit_array(255)).convert("LA")),
    ("RGB, red ink", lambda: _pil(np.stack([digit_array(255)] + [digit_array(0)] * 2, -1))),
    ("RGBA, dark ink on transparent", lambda: _pil(
        np.stack([digit_array(0)] * 3 + [digit_array(255)], -1))),
]  # fmt: skip


def _pil(array: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(array)


def _picture_case(name: str, make: Callable[[], Any]) -> None:
    def run(ctx: Any) -> str:
        picture = make()
        suffix = ".tiff" if picture.mode in ("I", "F") else ".png"  # PNG holds neither
        path = ctx.tmp / f"digit{suffix}"
        picture.save(path)
        assert _predicted(ctx, path) == 1, name
        return ANSWER

    case("file", f"picture {name} is read as a 1")(run)


for _name, _make in PICTURES:
    _picture_case(_name, _make)


# -- experiment result files ----------------------------------------------------------------
def _result_case(name: str, text: Callable[[dict], str], fragment: str) -> None:
    def run(ctx: Any) -> str:
        from tinycnn.teach.experiment_grid import finished, make_runs, run_file

        data = {"subset": True, "data": None, "limit": 50, "validation_split": 0.1}
        spec = make_runs({"d": {"model": "dense", "epochs": 1}}, [0], data)[0]
        path = run_file(ctx.tmp, spec)
        path.parent.mkdir(parents=True)
        good = {"spec": spec, "test_accuracy": 0.9, "test_loss": 0.3, "history": {},
                "seconds": 1.0}  # fmt: skip
        path.write_text(text(good))
        return refused(lambda: finished(ctx.tmp, spec), str(path), fragment)

    case("file", f"experiment result file: {name}")(run)


RESULT_CASES: list[tuple[str, Callable[[dict], str], str]] = [
    ("a list", lambda good: "[1, 2]", "not a run's result (a list)"),
    ("null", lambda good: "null", "not a run's result (a NoneType)"),
    ("not JSON", lambda good: "{oops", "not a run's result"),
    ("missing test_accuracy", lambda good: json.dumps({**good, "test_accuracy": None}),
     "test_accuracy must be a number in [0, 1]"),
    ("NaN test_accuracy", lambda good: json.dumps({**good, "test_accuracy": NAN}),
     "test_accuracy must be a number in [0, 1], got nan"),
    ("test_accuracy 5.0", lambda good: json.dumps({**good, "test_accuracy": 5.0}),
     "got 5.0"),
    ("test_accuracy a string", lambda good: json.dumps({**good, "test_accuracy": "0.9"}),
     "test_accuracy must be"),
    ("infinite test_loss", lambda good: json.dumps({**good, "test_loss": INF}),
     "test_loss must be a finite number"),
    ("history a list", lambda good: json.dumps({**good, "history": []}), "history must be"),
    ("another run's spec", lambda good: json.dumps({**good, "spec": {"config": "x"}}),
     "holds a run with other settings"),
]  # fmt: skip
for _name, _text, _fragment in RESULT_CASES:
    _result_case(_name, _text, _fragment)


# -- cli: tinycnn experiment ----------------------------------------------------------------
GRID_CASES: list[tuple[str, str, str]] = [
    ("a list", "[1]", "a grid must be a JSON object"),
    ("no configs", '{"seeds": [0]}', "'configs' must be a non-empty object"),
    ("configs empty", '{"configs": {}}', "'configs' must be a non-empty object"),
    ("configs a list", '{"configs": ["cnn"]}', "'configs' must be"),
    ("unknown top-level key", '{"configs": {"a": {"model": "cnn"}}, "seed": [0]}',
     "unknown key(s) ['seed']"),
    ("not JSON", "{configs", "--grid"),
    ("settings a list", '{"configs": {"a": ["cnn"]}}', "settings must be an object"),
    ("model vgg", '{"configs": {"a": {"model": "vgg"}}}', "model must be one of"),
    ("model missing", '{"configs": {"a": {"epochs": 1}}}', "model must be one of"),
    ("model a list", '{"configs": {"a": {"model": []}}}', "model must be one of"),
    ("unknown setting", '{"configs": {"a": {"model": "cnn", "lr_decay": 1}}}',
     "unknown setting(s) ['lr_decay']"),
    ("epochs -1", '{"configs": {"a": {"model": "cnn", "epochs": -1}}}', "epochs must be >= 1"),
    ("epochs 0", '{"configs": {"a": {"model": "cnn", "epochs": 0}}}', "epochs must be >= 1"),
    ("epochs 1.5", '{"configs": {"a": {"model": "cnn", "epochs": 1.5}}}', "got 1.5"),
    ("epochs abc", '{"configs": {"a": {"model": "cnn", "epochs": "abc"}}}', "got 'abc'"),
    ("epochs true", '{"configs": {"a": {"model": "cnn", "epochs": true}}}', "got True"),
    ("epochs 1e400", '{"configs": {"a": {"model": "cnn", "epochs": 1e400}}}', "got inf"),
    ("lr NaN", '{"configs": {"a": {"model": "cnn", "lr": NaN}}}', "lr must be > 0"),
    ("lr -1", '{"configs": {"a": {"model": "cnn", "lr": -1}}}', "lr must be > 0"),
    ("lr Infinity", '{"configs": {"a": {"model": "cnn", "lr": Infinity}}}', "got inf"),
    ("lr a string", '{"configs": {"a": {"model": "cnn", "lr": "1e-3"}}}', "lr must be"),
    ("batch_size 0", '{"configs": {"a": {"model": "cnn", "batch_size": 0}}}',
     "batch_size must be >= 1"),
    ("augment yes", '{"configs": {"a": {"model": "cnn", "augment": "yes"}}}',
     "augment must be True or False, got 'yes'"),
    ("jit_compile 1", '{"configs": {"a": {"model": "cnn", "jit_compile": 1}}}',
     "jit_compile must be True or False"),
    ("schedule bogus", '{"configs": {"a": {"model": "cnn", "schedule": "bogus"}}}',
     "schedule must be one of ['constant', 'cosine'], got 'bogus'"),
    ("seeds [-1]", '{"configs": {"a": {"model": "cnn"}}, "seeds": [-1]}',
     "each seed must be >= 0"),
    ("seeds [1.7]", '{"configs": {"a": {"model": "cnn"}}, "seeds": [1.7]}', "got 1.7"),
    ("seeds [0, 0]", '{"configs": {"a": {"model": "cnn"}}, "seeds": [0, 0]}',
     "[0] given more than once"),
    ("seeds a string", '{"configs": {"a": {"model": "cnn"}}, "seeds": "0-4"}',
     "seeds must be a non-empty list"),
    ("seeds []", '{"configs": {"a": {"model": "cnn"}}, "seeds": []}',
     "seeds must be a non-empty list"),
    ("seed 2**40", '{"configs": {"a": {"model": "cnn"}}, "seeds": [1099511627776]}',
     "at most 4294967295"),
    ("names a/b and a_b", '{"configs": {"a/b": {"model": "cnn"}, "a_b": {"model": "cnn"}}}',
     "would write the same result file"),
    ("name empty", '{"configs": {"": {"model": "cnn"}}}', "configuration name must be"),
    ("name 65 characters", '{"configs": {"' + "a" * 65 + '": {"model": "cnn"}}}',
     "configuration name must be"),
]  # fmt: skip


def _grid_case(name: str, text: str, fragment: str) -> None:
    def run(ctx: Any) -> str:
        grid = ctx.tmp / "grid.json"
        grid.write_text(text)
        cli_refused("experiment", "--grid", grid, "--subset", "--out", ctx.tmp / "out",
                    fragment=fragment)  # fmt: skip
        assert not (ctx.tmp / "out").exists()  # refused before anything was made
        return ERROR

    case("cli", f"experiment grid: {name}")(run)


for _name, _text, _fragment in GRID_CASES:
    _grid_case(_name, _text, _fragment)


EXPERIMENT_OPTION_CASES: list[tuple[str, Callable[[Any], list], str]] = [
    ("--validation-split 1.5", lambda ctx: ["--validation-split", "1.5"], "[0, 1)"),
    ("--validation-split nan", lambda ctx: ["--validation-split", "nan"], "[0, 1)"),
    ("--validation-split -0.1", lambda ctx: ["--validation-split", "-0.1"], "[0, 1)"),
    ("--data with --subset", lambda ctx: ["--data", ctx.tmp], "not both"),
    ("--out an existing file", lambda ctx: ["--out", ctx.default_model_file()], "is a file"),
    ("--grid missing", lambda ctx: ["--grid", ctx.tmp / "none.json"], "none.json"),
    ("--grid a folder", lambda ctx: ["--grid", ctx.tmp], str(Path("/"))),
    ("neither --grid nor --model", lambda ctx: [], "give --grid or at least one --model"),
    ("--model vgg", lambda ctx: ["--model", "vgg"], "model must be one of"),
]  # fmt: skip


def _experiment_option_case(name: str, extra: Callable[[Any], list], fragment: str) -> None:
    def run(ctx: Any) -> str:
        argv = extra(ctx)
        if "--grid" not in argv and "--model" not in argv and name != "neither --grid nor --model":
            argv = ["--model", "cnn", *argv]
        out = [] if "--out" in argv else ["--out", ctx.tmp / "out"]
        subset = (
            []
            if "--data" in argv and "--subset" not in argv and name != "--data with --subset"
            else []
        )
        return cli_refused("experiment", "--subset", *argv, *out, *subset, fragment=fragment)

    case("cli", f"experiment {name}")(run)


for _name, _extra, _fragment in EXPERIMENT_OPTION_CASES:
    _experiment_option_case(_name, _extra, _fragment)


@case("cli", "experiment --data a missing folder")
def _(ctx: Any) -> str:
    return cli_refused("experiment", "--model", "cnn", "--data", ctx.tmp / "nope", "--out",
                       ctx.tmp / "out", fragment="no such folder")  # fmt: skip


def _experiment_result_case(name: str, text: Callable[[dict], str], fragment: str) -> None:
    def run(ctx: Any) -> str:
        from tinycnn.teach.experiment_grid import make_runs, run_file

        data = {"subset": True, "data": None, "limit": None, "validation_split": 0.1}
        spec = make_runs({"cnn": {"model": "cnn", "epochs": 1}}, [0], data)[0]
        path = run_file(ctx.tmp / "out", spec)
        path.parent.mkdir(parents=True)
        path.write_text(text({"spec": spec, "test_accuracy": 0.9, "test_loss": 0.3,
                              "history": {}, "seconds": 1.0}))  # fmt: skip
        return cli_refused("experiment", "--model", "cnn", "--epochs", "1", "--seeds", "1",
                           "--subset", "--out", ctx.tmp / "out", fragment=str(path))  # fmt: skip

    case("cli", f"experiment with a result file: {name}")(run)


for _name, _text, _fragment in RESULT_CASES:
    _experiment_result_case(_name, _text, _fragment)


@case("cli", "experiment --scheduler without dask.distributed")
def _(ctx: Any) -> str:
    import sys

    saved = sys.modules.get("dask.distributed")
    sys.modules["dask.distributed"] = None  # type: ignore[assignment]
    try:
        return cli_refused("experiment", "--model", "cnn", "--seeds", "1", "--subset", "--out",
                           ctx.tmp / "out", "--scheduler", "tcp://127.0.0.1:9",
                           fragment="cannot use a Dask scheduler at tcp://127.0.0.1:9")  # fmt: skip
    finally:
        if saved is None:
            del sys.modules["dask.distributed"]
        else:
            sys.modules["dask.distributed"] = saved


def _scheduler_case(name: str, serve_noise: bool) -> None:
    def run(ctx: Any) -> str:
        import tinycnn.teach.experiment_grid as grid

        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            stop = threading.Event()

            def answer_noise() -> None:  # a web server where Dask was expected
                listener.settimeout(0.1)
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn, _ = listener.accept()
                        with conn:
                            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\xff" * 64)

            noise = threading.Thread(target=answer_noise, daemon=True)
            if serve_noise:
                noise.start()
            else:
                listener.close()  # nothing listens at the port
            timeout, grid.DASK_TIMEOUT = grid.DASK_TIMEOUT, 2
            try:
                address = f"tcp://127.0.0.1:{port}"
                return cli_refused(
                    "experiment", "--model", "cnn", "--seeds", "1", "--subset", "--out",
                    ctx.tmp / "out", "--scheduler", address,
                    fragment=f"cannot use a Dask scheduler at {address}: ",
                )  # fmt: skip
            finally:
                grid.DASK_TIMEOUT = timeout
                stop.set()
                if serve_noise:
                    noise.join()  # before the listener closes under its accept()

    case("cli", f"experiment --scheduler {name}")(run)


_scheduler_case("with nothing listening", serve_noise=False)
_scheduler_case("at a web server, not Dask", serve_noise=True)


@case("cli", "predict with finite weights whose output overflows")
def _(ctx: Any) -> str:
    from tinycnn.layers import Dense, Flatten
    from tinycnn.model import Sequential

    model = Sequential([Flatten(), Dense(8), Dense(8), Dense(8), Dense(10)],
                       input_shape=(28, 28, 1), seed=0)  # fmt: skip
    model.set_weights([np.full_like(w, 1e9) for w in model.get_weights()])
    save_model(model, ctx.tmp / "big.npz")
    return cli_refused("predict", ctx.tmp / "big.npz", ctx.digit_png(),
                       fragment="layer 4 (dense_3)")  # fmt: skip


@case("cli", "predict a 16-bit picture of a 1")
def _(ctx: Any) -> str:
    picture = ctx.tmp / "one16.png"
    _pil(mnist_one_16bit()).save(picture)
    status, out, err = cli("predict", ctx.default_model_file(), picture)
    assert status == 0 and out.startswith(f"{picture}: 1 ("), (out, err)
    return ANSWER


@case("cli", "experiment grid with valid settings runs nothing twice (checked, not run)")
def _(ctx: Any) -> str:
    from tinycnn.teach.experiment_grid import make_runs

    runs = make_runs({"a": {"model": "cnn", "epochs": 2.0, "lr": 1}}, [3, 1], {})
    assert [(r["seed"], r["settings"]["epochs"], r["settings"]["lr"]) for r in runs] == [
        (3, 2, 1.0), (1, 2, 1.0)]  # fmt: skip
    return ANSWER


# -- server of issue 24 ---------------------------------------------------------------------
@case("server", "two Content-Length headers")
def _(ctx: Any) -> str:
    raw = post(body(), extra="Content-Length: 5\r\n")
    return server_refused(ctx, raw, 400, "exactly one Content-Length")


@case("server", "a model answering NaN gets JSON 422, never bare NaN")
def _(ctx: Any) -> str:
    model = load_default_model()
    model.layers[-1].params["b"][0] = np.nan  # bypassing set_weights: the server must cope
    server = make_server(model, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        drawing = [255 if 11 <= i % 28 <= 16 and 5 <= i // 28 <= 22 else 0 for i in range(784)]
        status, headers, data = http(_Served(server), post(body(pixels=drawing)))
    finally:
        server.shutdown()
        server.server_close()
    strict = json.loads(data, parse_constant=lambda name: pytest.fail(f"{name} in {data!r}"))
    assert status == 422, data
    assert "not a finite number" in strict["error"]
    assert headers["Content-Type"] == "application/json"
    return ERROR


class _Served:
    """A stand-in context holding another server."""

    def __init__(self, server: Any) -> None:
        self.server = server


@case("server", "one client over its connection cap")
def _(ctx: Any) -> str:
    server = ctx.server
    cap, server.max_per_client = server.max_per_client, 2
    waiting, server.max_waiting = server.max_waiting, 0
    held = []
    try:
        for _ in range(2):
            sock = socket.create_connection(server.server_address[:2], timeout=30,
                                            source_address=("127.0.0.3", 0))  # fmt: skip
            sock.sendall(post(b"x" * 10, length="500"))  # headers in, the body never
            held.append(sock)
        import time

        time.sleep(0.3)
        with socket.create_connection(server.server_address[:2], timeout=30,
                                      source_address=("127.0.0.3", 0)) as extra:  # fmt: skip
            extra.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = extra.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:60]
        assert http(ctx, b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200  # others: served
    finally:
        server.max_per_client, server.max_waiting = cap, waiting
        for sock in held:
            sock.close()
    return ERROR


@case("server", "request line never finished (header deadline)")
def _(ctx: Any) -> str:
    import time

    with socket.create_connection(ctx.server.server_address[:2], timeout=30) as sock:
        sock.sendall(b"GET /api/mo")
        start = time.monotonic()
        assert sock.recv(65536) == b""  # dropped, without an answer
        assert time.monotonic() - start < 25
    return ERROR


# -- running the corpus ---------------------------------------------------------------------
class Context:
    """What a case may use: its own folder, and (made on first use) a server and files."""

    server_instance: Any = None
    default_model_instance: Any = None

    def __init__(self, tmp: Path, shared: Path) -> None:
        self.tmp, self.shared = tmp, shared

    @property
    def server(self) -> Any:
        if Context.server_instance is None:
            server = make_server(load_default_model(), "127.0.0.1", 0)
            server.request_deadline = 1.0  # 10 s in use; short here so the corpus stays quick
            threading.Thread(target=server.serve_forever, daemon=True).start()
            Context.server_instance = server
        return Context.server_instance

    def default_model(self) -> Any:
        if Context.default_model_instance is None:
            Context.default_model_instance = load_default_model()
        return Context.default_model_instance

    def default_model_file(self) -> Path:
        path = self.shared / "default.npz"
        if not path.exists():
            save_model(load_default_model(), path)
        return path

    def digit_png(self) -> Path:
        from PIL import Image

        path = self.shared / "digit.png"
        if not path.exists():
            image = np.zeros((28, 28), np.uint8)
            image[6:22, 13:16] = 255  # a "1"
            Image.fromarray(image).save(path)
        return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    yield tmp_path_factory.mktemp("corpus")
    if Context.server_instance is not None:
        Context.server_instance.shutdown()
        Context.server_instance.server_close()
        Context.server_instance = None


@pytest.mark.parametrize("bad", CASES, ids=[f"{c.area}: {c.name}" for c in CASES])
def test_bad_input(bad: Case, tmp_path: Path, shared: Path) -> None:
    outcome = bad.run(Context(tmp_path, shared))
    assert outcome in (ERROR, ANSWER)
    TALLY.setdefault(bad.area, Counter())[outcome] += 1


def test_the_corpus_is_large_and_covers_every_area() -> None:
    areas = Counter(c.area for c in CASES)
    assert len(CASES) >= 450 and set(areas) == {"api", "file", "cli", "server"}, areas
    assert len({(c.area, c.name) for c in CASES}) == len(CASES), "duplicate case names"
