"""Fused Conv2D(relu) + MaxPool2D steps give the layers' numbers bit for bit.

``tinycnn/fast/fused_numba.py`` promises ``out``, the switches, ``dz`` and ``db`` equal to
bias + ReLU + max-pooling and their backward passes, and ``ConvReluPool`` (the step that
``tinycnn.fast.plan.plan`` falls back to with ``jit_compile=True``) promises a model that trains
with the same losses, gradients and input gradients as layer by layer.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn import runtime
from tinycnn.fast.fused import ConvReluPool, can_fuse
from tinycnn.fast.plan import plan
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential

pytest.importorskip("numba")

pool_ref = importlib.import_module("tinycnn.kernels.pool")
relu_ref = importlib.import_module("tinycnn.kernels.relu")
fused_nb = importlib.import_module("tinycnn.fast.fused_numba")


@pytest.fixture(autouse=True)
def _numba_backend():
    with runtime.use_backend("numba"):
        yield


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


@st.composite
def fused_cases(draw):
    """Pre-bias conv outputs with ties, zeros, -0.0, infinities and NaN; non-overlapping pools."""
    PH, PW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    SH, SW = draw(st.integers(PH, 3)), draw(st.integers(PW, 3))
    N, F = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    H, W = draw(st.integers(PH, 9)), draw(st.integers(PW, 9))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):  # small integers: many ties and exact zeros after the bias
        z = rng.integers(-2, 3, (N, H, W, F)).astype(dtype)
        b = rng.integers(-1, 2, F).astype(dtype)
    else:
        z = rng.standard_normal((N, H, W, F)).astype(dtype)
        b = rng.standard_normal(F).astype(dtype)
    if draw(st.booleans()):
        where = rng.random(z.shape) < 0.1
        specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)
        z[where] = rng.choice(specials, size=int(where.sum()))
    return z, b, (PH, PW, SH, SW), rng


@given(case=fused_cases())
def test_kernels_equal_bias_relu_pool_and_their_backward(case):
    z, b, (PH, PW, SH, SW), rng = case
    with np.errstate(invalid="ignore", over="ignore"):
        a, mask = relu_ref.relu_forward(z + b)  # as Conv2D(relu).forward adds and applies
        out_ref, argmax = pool_ref.maxpool_forward(a, PH, PW, (SH, SW), "valid")
        out, winner = fused_nb.bias_relu_maxpool_forward(z, b, PH, PW, SH, SW)
        assert_same_bits(out, out_ref)
        np.testing.assert_array_equal(winner % fused_nb.INACTIVE, argmax)
        dout = rng.standard_normal(out.shape).astype(z.dtype)
        dout[..., ::2] *= -1
        dx = pool_ref.maxpool_backward(dout, argmax, z.shape, PH, PW, (SH, SW), "valid")
        dz_ref = relu_ref.relu_backward(dx, mask)
        db_ref = dz_ref.reshape(-1, z.shape[3]).sum(axis=0)  # as Conv2D.backward sums
        dz, db = fused_nb.maxpool_relu_backward_bias_grad(dout, winner, z.shape, PH, PW, SH, SW)
    assert_same_bits(dz, dz_ref)
    assert_same_bits(db, db_ref)


@st.composite
def small_cnns(draw):
    """Two Conv2D + MaxPool2D pairs of drawn sizes, the second pool sometimes not fusable."""
    H = draw(st.integers(8, 14))
    second_pool = draw(
        st.sampled_from(
            [MaxPool2D(2), MaxPool2D(2, 3), MaxPool2D(2, 1), MaxPool2D(2, padding="same")]
        )
    )
    layers = [
        Conv2D(draw(st.integers(1, 5)), draw(st.integers(1, 3)), activation="relu"),
        MaxPool2D(draw(st.sampled_from([1, 2]))),
        Conv2D(
            draw(st.integers(1, 5)),
            2,
            padding=draw(st.sampled_from(["valid", "same"])),
            activation="relu",
        ),  # fmt: skip
        second_pool,
        Flatten(),
        Dense(3),
    ]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    return layers, (H, H, draw(st.integers(1, 3))), dtype, seed


@given(cnn=small_cnns(), input_grad=st.booleans())
def test_a_model_gives_the_same_loss_and_gradients_fused_or_not(cnn, input_grad):
    layers, shape, dtype, seed = cnn
    model = Sequential(layers, input_shape=shape, seed=seed).astype(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, *shape)).astype(dtype)
    y = rng.integers(0, 3, 4)
    steps = plan(model.layers, methods=("fused",))
    assert isinstance(steps[0], ConvReluPool) and not steps[0].input_grad  # a first layer
    if input_grad:
        steps[0] = ConvReluPool(*steps[0].layers, input_grad=True)
    results = []
    for run in (model.layers, steps):
        loss, out = SoftmaxCrossEntropy(), x
        for step in run:
            out = step.forward(out, training=True)
        value, dout = loss.forward(out, y), loss.backward()
        for step in reversed(run):
            dout = step.backward(dout)
        results.append([value, dout] + [g.copy() for _, _, g in model.params_and_grads()])
    if not input_grad:
        assert results[1][1] is None
        results[0][1] = results[1][1] = np.zeros(0)
    for a, b in zip(*results, strict=True):
        assert_same_bits(np.asarray(a), np.asarray(b))


def test_plan_fuses_only_what_the_kernels_cover():
    conv = Conv2D(4, 3, activation="relu")
    assert can_fuse(conv, MaxPool2D(2)) and can_fuse(conv, MaxPool2D(2, 3))
    assert not can_fuse(conv, MaxPool2D(2, 1))  # overlapping windows
    assert not can_fuse(conv, MaxPool2D(2, padding="same"))
    assert not can_fuse(Conv2D(4, 3), MaxPool2D(2))  # no ReLU
    assert not can_fuse(Conv2D(4, 3, activation="softmax"), MaxPool2D(2))
    layers = [conv, MaxPool2D(2), Conv2D(2, 3), MaxPool2D(2), Flatten()]
    steps = plan(layers)
    assert [type(s).__name__ for s in steps] == [
        "ConvReluPool", "Conv2D", "MaxPool2D", "Flatten",
    ]  # fmt: skip
    assert steps[0].layers == (layers[0], layers[1])


def test_bad_pairs_and_pools_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="Conv2D\\(activation='relu'\\) then a 'valid' MaxPool2D"):
        ConvReluPool(Conv2D(2, 3), MaxPool2D(2))
    z = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="non-overlapping.*pool \\(2, 2\\) and strides \\(1, 1\\)"):
        fused_nb.bias_relu_maxpool_forward(z, np.zeros(2, np.float32), 2, 2, 1, 1)
    with pytest.raises(ValueError, match="expected dout and winner of shape \\(1, 2, 2, 2\\)"):
        fused_nb.maxpool_relu_backward_bias_grad(
            np.zeros((1, 3, 3, 2), np.float32),
            np.zeros((1, 3, 3, 2), np.uint8),
            z.shape,
            2,
            2,
            2,
            2,
        )
    with pytest.raises(RuntimeError, match="forward before backward"):
        ConvReluPool(Conv2D(2, 3, activation="relu"), MaxPool2D(2)).backward(z)
