"""Dropout: Keras's inverted dropout, its statistics, identity at inference, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import Dropout
from tinycnn.testing.gradcheck import gradcheck

rates = st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.8, 0.95])


@given(rates, st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64]))
def test_identity_at_inference(rate, seed, dtype):
    x = np.random.default_rng(seed).normal(size=(3, 4, 5)).astype(dtype)
    layer = Dropout(rate, seed=seed)
    out = layer.forward(x, training=False)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(layer.backward(x), x)


@given(rates.filter(lambda r: r > 0), st.integers(0, 2**32 - 1))
def test_kept_values_are_scaled_and_backward_uses_the_same_mask(rate, seed):
    x = np.random.default_rng(seed).normal(size=(4, 50)) + 10.0  # never 0, so drops are visible
    layer = Dropout(rate, seed=seed)
    out = layer.forward(x, training=True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-15)
    dout = np.random.default_rng(seed + 1).normal(size=x.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[~kept], 0.0)
    np.testing.assert_allclose(dx[kept], dout[kept] / (1 - rate), rtol=1e-15)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_fraction_dropped_is_rate(rate):
    n = 200_000
    out = Dropout(rate, seed=1).forward(np.ones(n), training=True)
    dropped = np.mean(out == 0)
    # The count of drops is Binomial(n, rate): 5 standard deviations is a 1-in-1.7-million miss.
    assert abs(dropped - rate) <= 5 * np.sqrt(rate * (1 - rate) / n)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_expected_value_is_kept(rate):
    x = np.linspace(-2.0, 3.0, 50)
    layer = Dropout(rate, seed=2)
    draws = 4000
    mean = np.mean([layer.forward(x, training=True) for _ in range(draws)], axis=0)
    # Each output is x/(1-rate) with probability 1-rate, else 0: mean x, standard deviation
    # |x| sqrt(rate/(1-rate)); the mean of `draws` outputs is off by at most 5 of its sds.
    tolerance = 5 * np.abs(x) * np.sqrt(rate / (1 - rate) / draws)
    assert np.all(np.abs(mean - x) <= tolerance)


def test_masks_are_fresh_each_step_and_reproducible_from_the_seed():
    x = np.ones((8, 16))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first, second = a.forward(x, training=True), a.forward(x, training=True)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b.forward(x, training=True), first)
    b.reseed(3)
    np.testing.assert_array_equal(b.forward(x, training=True), first)


def test_fixed_mask_reuses_the_first_mask_until_the_shape_changes():
    layer = Dropout(0.5, seed=4, fixed_mask=True)
    x = np.ones((6, 10))
    first = layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.forward(2 * x, training=True), 2 * first)
    assert layer.forward(np.ones((3, 10)), training=True).shape == (3, 10)
    layer.reseed(5)
    assert not np.array_equal(layer.forward(x, training=True), first)


def test_uses_the_generator_given_to_build_when_it_has_no_seed():
    rng = np.random.default_rng(6)
    layer = Dropout(0.5)
    layer.build((10,), rng)
    assert layer.rng is rng
    seeded = Dropout(0.5, seed=6)
    seeded.build((10,), np.random.default_rng(99))
    expected = Dropout(0.5, seed=6).forward(np.ones((2, 10)), training=True)
    np.testing.assert_array_equal(seeded.forward(np.ones((2, 10)), training=True), expected)


@given(rates, st.integers(0, 2**32 - 1), st.booleans())
def test_gradcheck_in_training(rate, seed, fixed_mask):
    x = np.random.default_rng(seed).normal(size=(2, 3, 4))
    layer = Dropout(rate, seed=seed, fixed_mask=fixed_mask)
    result = gradcheck(layer, x, seed=seed, training=True)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_outside_0_1_raises(rate):
    with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\)"):
        Dropout(rate)


def test_config_rebuilds_the_layer():
    layer = Dropout(0.25, seed=9, name="drop")
    assert layer.get_config() == {"rate": 0.25, "seed": 9, "name": "drop"}
    assert Dropout(**layer.get_config()).get_config() == layer.get_config()
    assert Dropout(0.1, fixed_mask=True).get_config()["fixed_mask"] is True
    assert Dropout(0.5).count_params() == 0
