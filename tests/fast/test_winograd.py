"""Winograd F(2x2, 3x3) steps match Conv2D(relu) + MaxPool2D to rounding.

``tinycnn/fast/winograd_numba.py`` promises the pooled output, ``dw``, ``db`` and ``dx`` of the
layers with 2.25x fewer multiplies; it adds in another order, so the promise is a tolerance: in
float64 the results agree to ~1e-13 of their scale (any slip in a transform would show at ~1e-1),
in float32 to ~1e-5. With ``jit_compile=True``, ``tinycnn.fast.plan.plan`` uses the step where it
fits.
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
from tinycnn.zoo import seed_cnn

pytest.importorskip("numba")

from tinycnn.fast.winograd import MIN_CHANNELS, WinogradConvReluPool, can_winograd  # noqa: E402

wn = importlib.import_module("tinycnn.fast.winograd_numba")


@pytest.fixture(autouse=True)
def _numba_backend():
    with runtime.use_backend("numba"):
        yield


def layers_reference(x, w, b, dout):
    """Pooled output, dw, db and dx from the readable layers on the NumPy backend."""
    F = w.shape[3]
    conv, pool = Conv2D(F, 3, activation="relu"), MaxPool2D(2)
    conv.build(x.shape[1:], np.random.default_rng(0))
    conv.params = {"w": w, "b": b}
    with runtime.use_backend("numpy"):
        out = pool.forward(conv.forward(x, training=True), training=True)
        dx = conv.backward(pool.backward(dout))
    return out, conv.grads["w"], conv.grads["b"], dx


def winograd_kernels(x, w, b, dout, winner=None):
    """The same four results from the Winograd kernels, called one by one; the backward routes
    through ``winner`` when given (else through the forward's own winners)."""
    N, H, W, _ = x.shape
    TH, TW = wn.pooled_tiles(H, W)
    V = wn.winograd_input_transform(x)
    U = wn.winograd_kernel_transform(w)
    out, chosen = wn.winograd_bias_relu_maxpool(np.matmul(V, U), b, (N, TH, TW, w.shape[3]))
    dM, db = wn.winograd_pool_backward(dout, chosen if winner is None else winner)
    dw = wn.winograd_kernel_grad(np.matmul(V.transpose(0, 2, 1), dM))
    dx = wn.winograd_input_grad(np.matmul(dM, U.transpose(0, 2, 1)), x.shape)
    return out, dw, db, dx


def assert_close_to_scale(actual, expected, tol, scale=None):
    """|actual - expected| <= tol * scale elementwise; ``scale`` max|expected| by default."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    if scale is None:
        scale = max(float(np.max(np.abs(expected))), np.finfo(expected.dtype).tiny)
    assert float(np.max(np.abs(actual - expected))) <= tol * scale


@st.composite
def conv_cases(draw, dtype=np.float64, max_channels=6):
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, max_channels)), draw(st.integers(1, 5))
    H, W = draw(st.integers(4, 12)), draw(st.integers(4, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((3, 3, C, F)).astype(dtype)
    b = (0.5 * rng.standard_normal(F)).astype(dtype)
    dout = rng.standard_normal((N, (H - 2) // 2, (W - 2) // 2, F)).astype(dtype)
    return x, w, b, dout


@given(case=conv_cases())
def test_kernels_equal_the_layers_in_float64(case):
    expected = layers_reference(*case)
    for actual, reference in zip(winograd_kernels(*case), expected, strict=True):
        assert_close_to_scale(actual, reference, 1e-13)


def winners(x, w, b):
    """Each pooling window's winner (and INACTIVE flag) as the Winograd forward picks it."""
    N, H, W, _ = x.shape
    TH, TW = wn.pooled_tiles(H, W)
    M = np.matmul(wn.winograd_input_transform(x), wn.winograd_kernel_transform(w))
    return wn.winograd_bias_relu_maxpool(M, b, (N, TH, TW, w.shape[3]))[1]


@given(case=conv_cases(dtype=np.float32))
def test_kernels_match_the_layers_in_float32(case):
    x, w, b, dout = case
    out, dw, db, dx = winograd_kernels(x, w, b, dout)
    # Rounding in a sum scales with its terms, not with its result: a window whose maximum
    # nearly cancels to 0.01 still carries the rounding of terms of size |x| * |w| ~ 1.
    terms = float(np.max(np.abs(x)) * np.max(np.abs(w).sum(axis=(0, 1, 2))) + np.max(np.abs(b)))
    assert_close_to_scale(out, layers_reference(x, w, b, dout)[0], 1e-5, scale=terms)
    # the gradients against the float64 kernels routed through the same winners: two elements
    # of a window closer than float32 rounding may be picked either way round, and the float64
    # routing is checked against the layers by test_kernels_equal_the_layers_in_float64
    # routing, judged like the forward against the size of the terms of each sum
    case64 = [a.astype(np.float64) for a in case]
    reference = winograd_kernels(*case64, winner=winners(x, w, b))[1:]
    dout_sum, F = float(np.abs(dout).sum()), w.shape[3]
    scales = (  # dw: Σ x dz; db: Σ dz; dx: at most 9 taps x F filters of w dz
        float(np.abs(x).max()) * dout_sum,
        dout_sum,
        9 * F * float(np.abs(w).max() * np.abs(dout).max()),
    )
    for actual, expected, scale in zip((dw, db, dx), reference, scales, strict=True):
        assert_close_to_scale(actual.astype(np.float64), expected, 1e-5, scale=scale)


def test_the_last_odd_row_and_column_get_no_input_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 7, 3))
    w, b = rng.standard_normal((3, 3, 3, 4)), np.zeros(4)
    dout = rng.standard_normal((2, 3, 2, 4))
    _, _, _, dx = winograd_kernels(x, w, b, dout)
    _, _, _, dx_ref = layers_reference(x, w, b, dout)
    assert np.all(dx[:, 8, :, :] == 0) and np.all(dx[:, :, 6, :] == 0)  # pooling drops them
    assert np.any(dx[:, 7] != 0)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-12)


def seed_like_pair(C=MIN_CHANNELS, dtype=np.float64):
    conv, pool = Conv2D(6, 3, activation="relu"), MaxPool2D(2)
    conv.build((11, 11, C), np.random.default_rng(1))
    conv.params = {key: value.astype(dtype) for key, value in conv.params.items()}
    return conv, pool


@pytest.mark.parametrize("input_grad", [True, False])
def test_the_step_fills_the_layers_grads_and_returns_dx(input_grad):
    conv, pool = seed_like_pair()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 11, 11, MIN_CHANNELS))
    dout = rng.standard_normal((3, 4, 4, 6))
    step = WinogradConvReluPool(conv, pool, input_grad=input_grad)
    out, dx = step.forward(x, training=True), None
    for _ in range(2):  # the second round reuses the scratch arrays
        out = step.forward(x, training=True)
        dx = step.backward(dout)
    expected = layers_reference(x, conv.params["w"], conv.params["b"], dout)
    assert_close_to_scale(out, expected[0], 1e-13)
    assert_close_to_scale(conv.grads["w"], expected[1], 1e-13)
    assert_close_to_scale(conv.grads["b"], expected[2], 1e-13)
    if input_grad:
        assert_close_to_scale(dx, expected[3], 1e-13)
        with pytest.raises(RuntimeError, match="forward before backward"):
            step.backward(dout)  # V now holds dV: a second backward would be wrong
    else:
        assert dx is None


def test_plan_uses_winograd_where_it_fits_and_only_with_jit_compile():
    model = seed_cnn(seed=0)
    names = [type(step).__name__ for step in plan(model.layers)]
    assert names[:2] == ["DirectConvReluPool", "WinogradConvReluPool"]  # conv1: 1 channel
    fused_only = plan(model.layers, methods=("fused",))
    assert [type(s).__name__ for s in fused_only][:2] == ["ConvReluPool"] * 2
    assert model.steps() == list(model.layers)  # eager: the default
    model.compile("adam", jit_compile=True)
    assert [type(s).__name__ for s in model.steps()] == names
    with runtime.use_backend("numpy"):  # the fused steps need Numba
        assert model.steps() == list(model.layers)
        assert "needs the numba backend" in model.describe_runtime()
    conv = seed_like_pair()[0]
    assert can_winograd(conv, MaxPool2D(2))
    assert not can_winograd(seed_like_pair(C=MIN_CHANNELS - 1)[0], MaxPool2D(2))
    assert not can_winograd(conv, MaxPool2D(3)) and not can_winograd(conv, MaxPool2D(2, 1))
    for other in (Conv2D(6, 3, strides=2, activation="relu"), Conv2D(6, 2, activation="relu"),
                  Conv2D(6, 3, padding="same", activation="relu"), Conv2D(6, 3)):  # fmt: skip
        other.build((11, 11, MIN_CHANNELS), np.random.default_rng(0))
        assert not can_winograd(other, MaxPool2D(2))


def run_steps(steps, x, y):
    """Loss, ∂loss/∂x (None from a first fused step) and the parameter gradients."""
    loss, out = SoftmaxCrossEntropy(), x
    for step in steps:
        out = step.forward(out, training=True)
    value, dout = loss.forward(out, y), loss.backward()
    for step in reversed(steps):
        dout = step.backward(dout)
    return value, dout


def test_winograd_fused_and_eager_steps_agree():
    model = Sequential(
        [Conv2D(8, 3, activation="relu"), MaxPool2D(2), Conv2D(5, 3, activation="relu"),
         MaxPool2D(2), Flatten(), Dense(3)],
        input_shape=(14, 14, 2), seed=4,
    ).astype(np.float64)  # fmt: skip
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 14, 14, 2)), rng.integers(0, 3, 4)
    results = []
    winograd, fused = plan(model.layers), plan(model.layers, methods=("fused",))
    assert [type(s) for s in winograd[:2]] == [ConvReluPool, WinogradConvReluPool]  # 2, 8 in
    assert [type(s) for s in fused[:2]] == [ConvReluPool, ConvReluPool]
    for steps in (winograd, fused, model.layers):
        value, dx = run_steps(steps, x, y)
        assert (dx is None) == (steps is not model.layers)  # no dx from a first fused step
        results.append([np.asarray(value)] + [g.copy() for _, _, g in model.params_and_grads()])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert_close_to_scale(a, b, 1e-12)


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="expected a built Conv2D\\(F, 3, strides=1"):
        WinogradConvReluPool(Conv2D(2, 3, activation="relu"), MaxPool2D(2))  # not built
    with pytest.raises(RuntimeError, match="forward before backward"):
        WinogradConvReluPool(*seed_like_pair()).backward(np.zeros((1, 4, 4, 6)))
    with pytest.raises(ValueError, match="at least 4 x 4, got 3 x 9"):
        wn.winograd_input_transform(np.zeros((1, 3, 9, 2)))
    with pytest.raises(ValueError, match="expected w \\(3, 3, C, F\\), got \\(2, 2, 1, 1\\)"):
        wn.winograd_kernel_transform(np.zeros((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="expected dout and winner of one shape"):
        wn.winograd_pool_backward(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="expected dV \\(16, 4, 2\\), got \\(16, 5, 2\\)"):
        wn.winograd_input_grad(np.zeros((16, 5, 2)), (1, 6, 6, 2))
    with pytest.raises(ValueError, match="expected M \\(16, 4, 3\\)"):
        wn.winograd_bias_relu_maxpool(np.zeros((16, 5, 3)), np.zeros(3), (1, 2, 2, 3))
    step = WinogradConvReluPool(*seed_like_pair())
    with pytest.raises(ValueError, match="expected input of shape \\(N, H, W, 8\\)"):
        step.forward(np.zeros((1, 11, 11, 3)))
