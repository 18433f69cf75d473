"""Reused scratch arrays: the same memory step after step, never a change in the numbers."""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest

from tinycnn import config
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


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("C", [1, 3])
def test_im2col_fills_the_given_buffer(backend, C):
    pytest.importorskip("numba") if backend == "numba" else None
    x = np.random.default_rng(0).random((2, 6, 7, C), dtype=np.float32)
    expected = im2col_ref.im2col(x, 3, 2, (2, 1), "same")
    buffer = np.full(expected.size, np.nan, np.float32)
    with config.use_backend(backend):
        from tinycnn import kernels

        cols = kernels.im2col(x, 3, 2, (2, 1), "same", out=buffer)
        assert np.shares_memory(cols, buffer)
        np.testing.assert_array_equal(cols, expected)
        for bad in (np.zeros(expected.size + 1, np.float32), np.zeros(expected.size),
                    np.zeros((expected.size, 2), np.float32)[:, 0]):  # fmt: skip
            with pytest.raises(ValueError, match=r"out: expected a C-contiguous float32 array"):
                kernels.im2col(x, 3, 2, (2, 1), "same", out=bad)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_conv2d_reuses_its_scratch_and_gives_the_same_numbers(backend):
    pytest.importorskip("numba") if backend == "numba" else None
    rng = np.random.default_rng(1)
    x1, x2 = rng.random((3, 9, 9, 2), dtype=np.float32), rng.random((3, 9, 9, 2), dtype=np.float32)
    dout = rng.standard_normal((3, 7, 7, 4)).astype(np.float32)
    with config.use_backend(backend):
        layer = Conv2D(4, 3, activation="relu")
        layer.build((9, 9, 2), np.random.default_rng(2))
        fresh = copy.deepcopy(layer)
        layer.forward(x1)
        first_cols = layer._cache[1]
        dx_first = layer.backward(dout)
        out2 = layer.forward(x2)
        assert np.shares_memory(layer._cache[1], first_cols)  # the same memory, refilled
        dx2 = layer.backward(dout)
        assert not np.shares_memory(dx2, dx_first)  # what callers keep is always new
        np.testing.assert_array_equal(out2, fresh.forward(x2))
        np.testing.assert_array_equal(dx2, fresh.backward(dout))
        np.testing.assert_array_equal(layer.grads["w"], fresh.grads["w"])


# The scratch arrays of the seed CNN's fused steps at batch 64: for each step that keeps some,
# its index, the names and the bytes; then the bytes each Conv2D layer keeps itself. The fast
# steps (bit_identical off) are the direct first convolution, with no scratch arrays, and the
# Winograd second one; the bit-identical steps are im2col + a matrix multiply for both.
SCRATCH = {
    True: ([(0, ("dz", "z"), 2 * 64 * 26 * 26 * 32 * 4),
            (1, ("dz", "z"), 2 * 64 * 11 * 11 * 64 * 4)],
           [64 * 676 * 9 * 4, 2 * 64 * 121 * 288 * 4]),  # cols; cols and dcols
    False: ([(1, ("M", "V"), 16 * 64 * 25 * (32 + 64) * 4)], [0, 0]),
}  # fmt: skip


@pytest.mark.parametrize("exact", [True, False])
def test_training_keeps_the_big_scratch_arrays_from_step_to_step(exact):
    pytest.importorskip("numba")
    step_scratch, layer_bytes = SCRATCH[exact]
    with config.use_backend("numba"), config.use_bit_identical(exact):
        model = seed_cnn(seed=0)
        model.compile("adam")
        rng = np.random.default_rng(3)
        x, y = rng.random((128, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 128)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        steps = list(model._steps)
        kept = [
            steps[k].workspace.array(names[0], (64, 1), np.float32) for k, names, _ in step_scratch
        ]
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        assert model._steps == steps  # the same fused steps, with their workspaces
        for (k, names, nbytes), first in zip(step_scratch, kept, strict=True):
            workspace = steps[k].workspace
            assert np.shares_memory(workspace.array(names[0], (64, 1), np.float32), first)
            assert sorted(workspace._arrays) == list(names)
            assert workspace.nbytes() == nbytes
        assert [layer.workspace.nbytes() for layer in model.layers[::2][:2]] == layer_bytes
        with config.use_backend("numpy"):  # another backend: another plan (the layers)
            model.forward(x[:2], fused=True)
            assert model._steps == model.layers
