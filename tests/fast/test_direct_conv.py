"""The direct one-channel 3x3 Conv2D(relu) + MaxPool2D(2) step matches the layers to rounding.

``tinycnn/fast/direct_numba.py`` computes the pooled output, the winners, ``dw`` and
``db`` window by window, adding in another order than im2col's matrix multiply: in float64 they
agree with the layers to ~1e-13 of their scale (a wrong tap or sign would show at ~1e-1), in
float32 to ~1e-5. With ``jit_compile=True``, ``tinycnn.fast.plan.plan`` uses the step for the
pairs it fits.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn import runtime
from tinycnn.fast.fused import ConvReluPool
from tinycnn.fast.plan import plan
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential

pytest.importorskip("numba")

from tinycnn.fast.direct import DirectConvReluPool, can_direct  # noqa: E402

direct = importlib.import_module("tinycnn.fast.direct_numba")
INACTIVE = importlib.import_module("tinycnn.fast.fused_numba").INACTIVE


@pytest.fixture(autouse=True)
def _numba_backend():
    with runtime.use_backend("numba"):
        yield


def built_pair(F: int, shape: tuple[int, int, int], w, b):
    conv, pool = Conv2D(F, 3, activation="relu"), MaxPool2D(2)
    conv.build(shape, np.random.default_rng(0))
    conv.params = {"w": w, "b": b}
    return conv, pool


def layers_reference(x, w, b, dout, input_grad=False):
    """Pooled output, pooling argmax, dw, db (and dx) from the readable layers on NumPy."""
    conv, pool = built_pair(w.shape[3], x.shape[1:], w, b)
    with runtime.use_backend("numpy"):
        out = pool.forward(conv.forward(x, training=True), training=True)
        argmax = pool._cache[1] if isinstance(pool._cache, tuple) else None
        dx = conv.backward(pool.backward(dout))
    return out, argmax, conv.grads["w"], conv.grads["b"], dx


def assert_close_to_scale(actual, expected, tol, scale=None):
    """|actual - expected| <= tol * scale; ``scale`` max|expected| unless given."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    if scale is None:
        scale = max(float(np.max(np.abs(expected))), np.finfo(expected.dtype).tiny)
    assert float(np.max(np.abs(actual - expected))) <= tol * scale


@st.composite
def cases(draw, dtype=np.float64):
    N, F = draw(st.integers(1, 3)), draw(st.integers(1, 9))
    H, W = draw(st.integers(4, 13)), draw(st.integers(4, 13))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.random((N, H, W, 1)).astype(dtype)
    if draw(st.booleans()):  # MNIST-like: many exact zeros, so many windows tie or are inactive
        x[x < 0.6] = 0
    w = rng.standard_normal((3, 3, 1, F)).astype(dtype)
    b = (0.3 * rng.standard_normal(F)).astype(dtype)
    dout = rng.standard_normal((N, (H - 2) // 2, (W - 2) // 2, F)).astype(dtype)
    return x, w, b, dout


@given(case=cases())
def test_kernels_equal_the_layers_in_float64(case):
    x, w, b, dout = case
    out_ref, _, dw_ref, db_ref, _ = layers_reference(x, w, b, dout)
    out, winner = direct.conv3x3_relu_maxpool_forward(x, w, b)
    assert_close_to_scale(out, out_ref, 1e-13)
    assert np.all((winner >= INACTIVE) == (out <= 0))  # inactive windows are flagged
    dw, db = direct.conv3x3_relu_maxpool_backward(x, dout, winner)
    # exact ties (a zero patch area) may pick another winner only where the patches are equal,
    # which leaves dw unchanged; so dw and db must agree everywhere
    assert_close_to_scale(dw, dw_ref, 1e-13, scale=float(np.abs(x).max() * np.abs(dout).sum()))
    # db is a sum of dout over the active windows: rounding scales with the terms, so a sum that
    # nearly cancels (measured: 7.8e-16 on a tiny result) is judged against sum |dout|
    assert_close_to_scale(db, db_ref, 1e-13, scale=float(np.abs(dout).sum()))


@given(case=cases(dtype=np.float32))
def test_kernels_match_the_layers_in_float32(case):
    x, w, b, dout = case
    out_ref = layers_reference(*(a.astype(np.float64) for a in case))[0]
    out, winner = direct.conv3x3_relu_maxpool_forward(x, w, b)
    assert_close_to_scale(out.astype(np.float64), out_ref, 1e-5)
    dw, db = direct.conv3x3_relu_maxpool_backward(x, dout, winner)
    # against the float64 kernel routed through the same winners: two window elements closer
    # than float32 rounding may be picked either way round, and the float64 routing is checked
    # against the layers by test_kernels_equal_the_layers_in_float64
    x64, dout64 = x.astype(np.float64), dout.astype(np.float64)
    dw64, db64 = direct.conv3x3_relu_maxpool_backward(x64, dout64, winner)
    terms = float(np.abs(dout64).sum())  # rounding scales with the terms of the sums
    assert_close_to_scale(dw.astype(np.float64), dw64, 1e-5, scale=float(np.abs(x64).max()) * terms)
    assert_close_to_scale(db.astype(np.float64), db64, 1e-5, scale=terms)


@pytest.mark.parametrize("input_grad", [False, True])
def test_the_step_fills_the_layers_grads(input_grad):
    rng = np.random.default_rng(1)
    x = rng.random((3, 12, 11, 1))
    w, b = rng.standard_normal((3, 3, 1, 5)), 0.1 * rng.standard_normal(5)
    dout = rng.standard_normal((3, 5, 4, 5))
    conv, pool = built_pair(5, (12, 11, 1), w, b)
    step = DirectConvReluPool(conv, pool, input_grad=input_grad)
    out = step.forward(x, training=True)
    dx = step.backward(dout)
    out_ref, _, dw_ref, db_ref, dx_ref = layers_reference(x, w, b, dout)
    assert_close_to_scale(out, out_ref, 1e-13)
    assert_close_to_scale(conv.grads["w"], dw_ref, 1e-13)
    assert_close_to_scale(conv.grads["b"], db_ref, 1e-13)
    if input_grad:  # the im2col route, from the step's winners
        assert_close_to_scale(dx, dx_ref, 1e-13)
    else:
        assert dx is None


def test_plan_uses_the_direct_step_only_where_it_fits():
    rng = np.random.default_rng(0)
    conv = built_pair(4, (10, 10, 1), rng.standard_normal((3, 3, 1, 4)), np.zeros(4))[0]
    assert can_direct(conv, MaxPool2D(2))
    assert not can_direct(conv, MaxPool2D(3)) and not can_direct(conv, MaxPool2D(2, 1))
    assert not can_direct(Conv2D(4, 3, activation="relu"), MaxPool2D(2))  # not built
    for other, shape in [
        (Conv2D(4, 3, activation="relu"), (10, 10, 2)),  # two channels
        (Conv2D(4, 3, strides=2, activation="relu"), (10, 10, 1)),
        (Conv2D(4, 5, activation="relu"), (10, 10, 1)),
        (Conv2D(4, 3, padding="same", activation="relu"), (10, 10, 1)),
        (Conv2D(4, 3), (10, 10, 1)),
    ]:
        other.build(shape, rng)
        assert not can_direct(other, MaxPool2D(2))
    layers = [conv, MaxPool2D(2), Flatten(), Dense(2)]
    assert [type(s).__name__ for s in plan(layers)][0] == "DirectConvReluPool"
    assert isinstance(plan(layers, methods=("fused",))[0], ConvReluPool)


def test_a_model_trains_the_same_with_the_direct_step_as_with_the_layers():
    model = Sequential(
        [Conv2D(6, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(3)],
        input_shape=(13, 12, 1), seed=2,
    ).astype(np.float64)  # fmt: skip
    rng = np.random.default_rng(3)
    x, y = rng.random((5, 13, 12, 1)), rng.integers(0, 3, 5)
    results = []
    for jit_compile in (True, False):
        model.compile("adam", jit_compile=jit_compile)
        loss = SoftmaxCrossEntropy()
        value = loss.forward(model.forward(x, training=True, logits=True), y)
        model.backward(loss.backward())
        kinds = [type(step) for step in model.steps()]
        results.append([np.asarray(value)] + [g.copy() for _, _, g in model.params_and_grads()])
        assert (DirectConvReluPool in kinds) == jit_compile
    for a, b in zip(*results, strict=True):
        assert_close_to_scale(a, b, 1e-13)


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="with 1 input channel then MaxPool2D\\(2\\)"):
        DirectConvReluPool(Conv2D(2, 3, activation="relu"), MaxPool2D(2))  # not built
    conv, pool = built_pair(2, (8, 8, 1), np.ones((3, 3, 1, 2)), np.zeros(2))
    with pytest.raises(RuntimeError, match="forward before backward"):
        DirectConvReluPool(conv, pool).backward(np.zeros((1, 3, 3, 2)))
    with pytest.raises(ValueError, match="expected x of shape \\(N, H, W, 1\\) with H, W >= 4"):
        direct.conv3x3_relu_maxpool_forward(
            np.zeros((1, 3, 8, 1)), np.ones((3, 3, 1, 2)), np.zeros(2)
        )
    with pytest.raises(ValueError, match="expected w \\(3, 3, 1, F\\) and b \\(F,\\)"):
        direct.conv3x3_relu_maxpool_forward(
            np.zeros((1, 8, 8, 1)), np.ones((3, 3, 1, 2)), np.zeros(3)
        )
    with pytest.raises(ValueError, match="expected dout and winner of shape \\(1, 3, 3, 'F'\\)"):
        direct.conv3x3_relu_maxpool_backward(
            np.zeros((1, 8, 8, 1)), np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 3, 2), np.uint8)
        )
