"""Fuzzing ``load_model`` with mutated model files: it loads a valid model or raises ValueError.

Hypothesis writes a model file and mutates it: flipped bytes, a cut length, an edited JSON value
anywhere in the ``meta`` document, or characters spliced into the JSON text. For each file,
``load_model`` must either return a model that predicts finite probabilities or raise a
``ValueError`` that starts with the file's path, and allocate at most 200 MB while doing so
(traced with ``tracemalloc``, which sees NumPy's allocations). The time each load takes is
recorded and its maximum printed (no timing assertion: the machine is shared), and a hang
fails the test through its timeout.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from badfiles import json_paths, json_replace, json_values, parts, tiny_model, write_npz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycnn.model import load_model
from tinycnn.saving.io import save_model

MEMORY_LIMIT = 200 * 1024 * 1024
X = np.random.default_rng(0).random((2, 14, 14, 1), dtype=np.float32)
TIMES: list[float] = []
pytestmark = pytest.mark.timeout(600)


@st.composite
def mutated_files(draw: Any) -> tuple[str, Any]:
    """(kind, recipe) of one mutation of the tiny model's file."""
    kind = draw(st.sampled_from(["flip", "cut", "json value", "json text"]))
    if kind == "flip":
        return kind, draw(
            st.lists(
                st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                min_size=1,
                max_size=8,
            )
        )
    if kind == "cut":
        return kind, draw(st.floats(0, 1, exclude_max=True))
    if kind == "json value":
        meta, _ = parts(tiny_model())
        paths = json_paths(meta)
        return kind, (draw(st.sampled_from(paths)), draw(json_values))
    return kind, (draw(st.floats(0, 1)), draw(st.integers(0, 20)), draw(st.text(max_size=12)))


def write_mutated(path: Path, kind: str, recipe: Any) -> Path:
    if kind in ("flip", "cut"):
        save_model(tiny_model(), path)
        data = bytearray(path.read_bytes())
        if kind == "flip":
            for where, mask in recipe:
                data[int(where * len(data))] ^= mask
        else:
            data = data[: int(recipe * len(data))]
        path.write_bytes(bytes(data))
        return path
    meta, arrays = parts(tiny_model())
    if kind == "json value":
        where, value = recipe
        return write_npz(path, json_replace(meta, where, value), arrays)
    where, cut, text = recipe
    document = json.dumps(meta)
    at = int(where * len(document))
    return write_npz(path, document[:at] + text + document[at + cut :], arrays)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=mutated_files())
def test_mutated_model_files_load_or_raise_value_error(tmp_path: Path, mutation: Any) -> None:
    path = write_mutated(tmp_path / "fuzzed.npz", *mutation)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        model = load_model(path)
    except ValueError as error:
        model = None
        assert str(error).startswith(str(path)), error
    finally:
        TIMES.append(time.perf_counter() - start)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak:,} bytes traced loading {mutation}"
    if model is not None:  # it loaded: it must be a working model
        p = model.predict(np.resize(X, (2, *model.input_shape)))
        assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1, atol=1e-4)


def test_report_fuzz_times() -> None:
    """Prints the slowest load of the fuzz run (runs after it, in file order)."""
    assert TIMES, "the fuzz test did not run first"
    print(f"\nfuzzed loads: {len(TIMES)}, slowest {max(TIMES) * 1000:.1f} ms")
