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
    ("JSON nested 1,000 deep", lambda: post(b"[" * 1000 + b"]" * 1000), 400, "malformed JSON"),
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


# -- running the corpus ---------------------------------------------------------------------
class Context:
    """What a case may use: its own folder, and (made on first use) a server and files."""

    server_instance: Any = None

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
    assert len(CASES) >= 150 and set(areas) == {"api", "file", "cli", "server"}, areas
    assert len({(c.area, c.name) for c in CASES}) == len(CASES), "duplicate case names"
