"""Every Numba kernel equals its NumPy twin, bit for bit, over drawn configurations.

The twins only move data (im2col, col2im, max-pooling) or repeat NumPy's element-wise arithmetic
in NumPy's order (ReLU, Adam), so the promise is ``assert_array_equal`` (and
for the float bits, equality of the raw bytes where signed zeros could differ).
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles import im2col_naive

from tinycnn.testing.strategies import conv_configs, pool_configs

pytest.importorskip("numba")

im2col_ref = importlib.import_module("tinycnn.kernels.im2col")
pool_ref = importlib.import_module("tinycnn.kernels.pool")
im2col_nb = importlib.import_module("tinycnn.kernels.im2col_numba")
pool_nb = importlib.import_module("tinycnn.kernels.pool_numba")
relu_nb = importlib.import_module("tinycnn.kernels.relu_numba")
relu_ref = importlib.import_module("tinycnn.kernels.relu")
adam_ref = importlib.import_module("tinycnn.kernels.adam")
adam_nb = importlib.import_module("tinycnn.kernels.adam_numba")

DTYPES = st.sampled_from([np.float32, np.float64])


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Equal values, shapes, dtypes and signs of zero (NaNs compare equal by position)."""
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


@given(cfg=conv_configs(), dtype=DTYPES)
def test_im2col_equals_reference(cfg, dtype):
    x = cfg.x(dtype)
    args = (cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    assert_same_bits(im2col_nb.im2col(x, *args), im2col_ref.im2col(x, *args))


@given(cfg=conv_configs(), dtype=DTYPES)
def test_im2col_with_one_channel_equals_the_definition(cfg, dtype):
    # With C = 1 the twin hands the work to the reference's strided copies, so comparing it
    # with the reference would compare the reference with itself: hold it to the definition.
    cfg = dataclasses.replace(cfg, C=1)
    x = cfg.x(dtype)
    args = (cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    cols = im2col_nb.im2col(x, *args)
    assert cols.dtype == dtype and cols.shape[1] == cfg.KH * cfg.KW
    np.testing.assert_array_equal(cols, im2col_naive(x, *args))


@given(cfg=conv_configs(), dtype=DTYPES)
def test_col2im_equals_reference(cfg, dtype):
    args = (cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    shape = im2col_ref.im2col(np.zeros(cfg.x_shape, dtype), *args).shape
    cols = np.random.default_rng(cfg.seed).standard_normal(shape).astype(dtype)
    expected = im2col_ref.col2im(cols, cfg.x_shape, *args)
    assert_same_bits(im2col_nb.col2im(cols, cfg.x_shape, *args), np.ascontiguousarray(expected))


@given(cfg=pool_configs(ties=True) | pool_configs(), dtype=DTYPES)
def test_maxpool_forward_and_backward_equal_reference(cfg, dtype):
    x = cfg.x(dtype)
    args = (cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    out, argmax = pool_nb.maxpool_forward(x, *args)
    out_ref, argmax_ref = pool_ref.maxpool_forward(x, *args)
    assert_same_bits(out, out_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    assert argmax.dtype == argmax_ref.dtype
    rng = np.random.default_rng(cfg.seed + 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dout[rng.random(out.shape) < 0.2] = -0.0  # signed zeros must come out as NumPy's
    dx = pool_nb.maxpool_backward(dout, argmax, cfg.x_shape, *args)
    dx_ref = pool_ref.maxpool_backward(dout, argmax, cfg.x_shape, *args)
    assert_same_bits(dx, np.ascontiguousarray(dx_ref))


@st.composite
def special_arrays(draw, min_size: int = 1):
    """Float arrays of up to 40,000 elements (both sides of the parallel threshold) that mix
    normal values with 0.0, -0.0, infinities and NaN."""
    size = draw(st.sampled_from([min_size, 7, 1000, 40_000]))
    dtype = draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.standard_normal(size).astype(dtype)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)
    where = rng.random(size) < 0.1
    values[where] = rng.choice(specials, size=int(where.sum()))
    return values.reshape(draw(st.sampled_from([(size,), (1, size)])))


@given(x=special_arrays(), seed=st.integers(0, 2**32 - 1))
def test_relu_forward_and_backward_equal_numpy(x, seed):
    out, mask = relu_nb.relu_forward(x)
    with np.errstate(invalid="ignore"):
        assert_same_bits(out, np.maximum(x, 0))
        np.testing.assert_array_equal(mask, x > 0)
        dout = np.random.default_rng(seed).standard_normal(x.shape).astype(x.dtype)
        dout[::3] = -dout[::3]
        assert_same_bits(relu_nb.relu_backward(dout, mask), dout * (x > 0))
        ref_out, ref_mask = relu_ref.relu_forward(x)
        assert_same_bits(out, ref_out)
        np.testing.assert_array_equal(mask, ref_mask)
        assert_same_bits(relu_nb.relu_backward(dout, mask), relu_ref.relu_backward(dout, mask))


@given(x=special_arrays(min_size=3), steps=st.integers(1, 5), seed=st.integers(0, 99))
def test_adam_update_equals_the_optimizer(x, steps, seed):
    from tinycnn import runtime
    from tinycnn.optim import Adam

    x = np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-3.0)
    rng = np.random.default_rng(seed)
    reference = [x.copy()]
    p, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
    opt = Adam(learning_rate=1e-2)
    with runtime.use_backend("numpy"):
        for t in range(1, steps + 1):
            g = (rng.standard_normal(x.shape) * 10.0 ** rng.uniform(-8, 2)).astype(x.dtype)
            opt.update(reference, [g])
            dtype = x.dtype.type
            lr_t = dtype(1e-2) * np.sqrt(1 - dtype(0.999) ** t) / (1 - dtype(0.9) ** t)
            adam_nb.adam_update(p, g, m, v, lr_t, 0.9, 0.999, 1e-7)
    assert_same_bits(p, reference[0])
    assert_same_bits(m, opt.slots["m"][0])
    assert_same_bits(v, opt.slots["v"][0])


def test_twins_have_the_reference_signatures():
    import inspect

    for ref, fast, names in [
        (im2col_ref, im2col_nb, ["im2col", "col2im"]),
        (pool_ref, pool_nb, ["maxpool_forward", "maxpool_backward"]),
        (relu_ref, relu_nb, ["relu_forward", "relu_backward"]),
        (adam_ref, adam_nb, ["adam_update"]),
    ]:
        for name in names:
            ref_params = list(inspect.signature(getattr(ref, name)).parameters)
            assert list(inspect.signature(getattr(fast, name)).parameters) == ref_params


def test_bad_shapes_raise_value_errors_naming_the_shapes():
    x = np.zeros((2, 5, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"4-D.*\(5, 5, 3\)"):
        im2col_nb.im2col(x[0], 3, 3)
    with pytest.raises(ValueError, match="expected shape"):
        im2col_nb.col2im(np.zeros((5, 27), np.float32), x.shape, 3, 3)
    with pytest.raises(ValueError, match="does not fit"):
        pool_nb.maxpool_forward(x, 6, 6, 1)
    with pytest.raises(ValueError, match="mask's"):
        relu_nb.relu_backward(np.zeros(3), np.zeros(4, bool))
