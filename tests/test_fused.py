"""Fused Conv2D(relu) + MaxPool2D steps give the layers' numbers bit for bit.

``tinycnn/fast/fused_numba.py`` promises ``out``, the switches, ``dz`` and ``db`` equal to
bias + ReLU + max-pooling and their backward passes, and ``tinycnn.fast.fused.plan`` promises a
model
that trains with the same losses, gradients and input gradients as layer by layer.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn import config
from tinycnn.fast.fused import ConvReluPool, can_fuse, plan
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential

pytest.importorskip("numba")

pool_ref = importlib.import_module("tinycnn.kernels.pool")
relu_nb = importlib.import_module("tinycnn.kernels.relu_numba")
fused_nb = importlib.import_module("tinycnn.fast.fused_numba")


@pytest.fixture(autouse=True)
def _numba_backend():
    previous, previous_exact = config.get_backend(), config.bit_identical()
    config.set_backend("numba")
    config.set_bit_identical(True)  # the faster steps have their own tests (test_winograd.py...)
    yield
    config.set_backend(previous)
    config.set_bit_identical(previous_exact)


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
        a, mask = relu_nb.bias_relu_forward(z.reshape(-1, z.shape[3]).copy(), b)
        a, mask = a.reshape(z.shape), mask.reshape(z.shape)
        out_ref, argmax = pool_ref.maxpool_forward(a, PH, PW, (SH, SW), "valid")
        out, winner = fused_nb.bias_relu_maxpool_forward(z, b, PH, PW, SH, SW)
        assert_same_bits(out, out_ref)
        np.testing.assert_array_equal(winner % fused_nb.INACTIVE, argmax)
        dout = rng.standard_normal(out.shape).astype(z.dtype)
        dout[..., ::2] *= -1
        dx = pool_ref.maxpool_backward(dout, argmax, z.shape, PH, PW, (SH, SW), "valid")
        dz_ref, db_ref = relu_nb.relu_backward_bias_grad(np.ascontiguousarray(dx), mask)
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
    results = []
    for fused in (False, True):
        loss = SoftmaxCrossEntropy()
        value = loss.forward(model.forward(x, training=True, logits=True, fused=fused), y)
        dx = model.backward(loss.backward(), input_grad=input_grad)
        results.append([value, dx] + [g.copy() for _, _, g in model.params_and_grads()])
    assert sum(isinstance(step, ConvReluPool) for step in model._steps) >= 1
    for a, b in zip(*results, strict=True):
        if a is None:
            assert b is None
        else:
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
    config.set_backend("numpy")
    assert plan(layers) == layers  # the NumPy backend runs the readable layers


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
