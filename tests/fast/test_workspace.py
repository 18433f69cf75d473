"""Reused scratch arrays: the same memory step after step, never a change in the numbers."""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest

from tinycnn import runtime
from tinycnn.fast.workspace import Workspace
from tinycnn.layers import Conv2D
from tinycnn.zoo import seed_cnn

im2col_ref = importlib.import_module("tinycnn.kernels.im2col")


def test_workspace_reuses_grows_and_starts_empty_in_copies():
    ws = Workspace()
    a = ws.array("cols", (4, 5), np.float32)
    b = ws.array("cols", (2, 3), np.float32)  # smaller: a view of the same memory
    assert a.shape == (4, 5) and b.shape == (2, 3) and b.flags.c_contiguous
    assert np.shares_memory(a, b) and ws.nbytes() == 80
    c = ws.array("cols", (5, 5), np.float32)  # larger: new memory
    assert not np.shares_memory(a, c) and ws.nbytes() == 100
    d = ws.array("cols", (5, 5), np.float64)  # another dtype: new memory
    assert d.dtype == np.float64 and not np.shares_memory(c, d)
    assert not np.shares_memory(ws.array("other", (2, 3), np.float64), d)
    assert copy.deepcopy(ws).nbytes() == 0


@pytest.mark.parametrize("C", [1, 3])
def test_the_fast_paths_im2col_fills_the_given_buffer(C):
    pytest.importorskip("numba")
    from tinycnn.fast.fused_numba import im2col_into

    x = np.random.default_rng(0).random((2, 6, 7, C), dtype=np.float32)
    expected = im2col_ref.im2col(x, 3, 2, (2, 1), "same")
    buffer = np.full(expected.size, np.nan, np.float32)
    cols = im2col_into(x, 3, 2, (2, 1), "same", out=buffer)
    assert np.shares_memory(cols, buffer)
    np.testing.assert_array_equal(cols, expected)
    for bad in (np.zeros(expected.size + 1, np.float32), np.zeros(expected.size),
                np.zeros((expected.size, 2), np.float32)[:, 0]):  # fmt: skip
        with pytest.raises(ValueError, match=r"out: expected a C-contiguous float32 array"):
            im2col_into(x, 3, 2, (2, 1), "same", out=bad)


def test_a_fused_step_reuses_its_scratch_and_gives_the_same_numbers():
    pytest.importorskip("numba")
    from tinycnn.fast.fused import ConvReluPool
    from tinycnn.layers import MaxPool2D

    rng = np.random.default_rng(1)
    x1, x2 = rng.random((3, 9, 9, 2), dtype=np.float32), rng.random((3, 9, 9, 2), dtype=np.float32)
    dout = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    with runtime.use_backend("numba"):
        conv = Conv2D(4, 3, activation="relu")
        conv.build((9, 9, 2), np.random.default_rng(2))
        pool, fresh = MaxPool2D(2), copy.deepcopy(conv)
        step = ConvReluPool(conv, pool, input_grad=True)
        step.forward(x1)
        first_cols = step._cache[2]
        dx_first = step.backward(dout)
        out2 = step.forward(x2)
        assert np.shares_memory(step._cache[2], first_cols)  # the same memory, refilled
        dx2 = step.backward(dout)
        assert not np.shares_memory(dx2, dx_first)  # what callers keep is always new
        fresh_pool = MaxPool2D(2)
        np.testing.assert_array_equal(out2, fresh_pool.forward(fresh.forward(x2)))
        np.testing.assert_array_equal(dx2, fresh.backward(fresh_pool.backward(dout)))
        np.testing.assert_array_equal(conv.grads["w"], fresh.grads["w"])
        assert sorted(step.workspace._arrays) == ["cols", "dcols", "dz", "z"]


def test_jit_compile_training_keeps_the_big_scratch_arrays_from_step_to_step():
    """The seed CNN with ``jit_compile``: the direct first step keeps no scratch arrays, the
    Winograd second one ``M`` and ``V`` (16 x 64*25 x (32 + 64) floats at batch 64)."""
    pytest.importorskip("numba")
    with runtime.use_backend("numba"):
        model = seed_cnn(seed=0)
        model.compile("adam", jit_compile=True)
        rng = np.random.default_rng(3)
        x, y = rng.random((128, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 128)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        steps = list(model.steps())
        kept = steps[1].workspace.array("M", (64, 1), np.float32)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        assert model.steps() == steps  # the same fused steps, with their workspaces
        workspace = steps[1].workspace
        assert np.shares_memory(workspace.array("M", (64, 1), np.float32), kept)
        assert sorted(workspace._arrays) == ["M", "V"]
        assert workspace.nbytes() == 16 * 64 * 25 * (32 + 64) * 4
        assert not hasattr(steps[0], "workspace")
        with runtime.use_backend("numpy"):  # another backend: another plan (the layers)
            assert model.steps() == model.layers
