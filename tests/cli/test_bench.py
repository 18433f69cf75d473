"""`tinycnn bench`'s tinycnn runner times the steps a training step runs, fused pairs included."""

from __future__ import annotations

import numpy as np
import pytest

from tinycnn import runtime
from tinycnn.cli.bench_systems import TinycnnRunner

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _restore_backend():
    previous = runtime.get_backend()
    yield
    runtime.set_backend(previous)


@pytest.mark.parametrize(
    ("system", "first"),
    [
        ("jit", "conv2d + max_pooling2d (direct)"),
        ("numba", "conv2d"),
        ("numpy", "conv2d"),
    ],
)
def test_layer_times_name_every_step_of_a_training_step(system, first):
    runner = TinycnnRunner(system, "cnn")
    rng = np.random.default_rng(0)
    xb, yb = rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8)
    rows = runner.layer_times(xb, yb, reps=2)
    names = [name for name, _, _ in rows]
    assert names[0] == first
    assert len(rows) == (6 if system == "jit" else 8)  # two pairs fused with jit_compile
    if system == "jit":
        assert names[1] == "conv2d_1 + max_pooling2d_1 (winograd)"
    assert all(f > 0 for _, f, _ in rows)
    assert rows[0][2] > 0 and rows[-1][2] > 0  # backward timed, the first step included


def test_runner_step_trains_the_model_as_fit_does():
    runner = TinycnnRunner("jit", "cnn")
    before = runner.model.get_weights()
    rng = np.random.default_rng(1)
    runner.step(rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8))
    after = runner.model.get_weights()
    assert all(np.any(a != b) for a, b in zip(before, after, strict=True))
    assert [type(step).__name__ for step in runner.model.steps()][:2] == [
        "DirectConvReluPool",
        "WinogradConvReluPool",
    ]
