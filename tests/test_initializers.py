"""Initializers draw from the documented ranges, and layers use them, save them and rebuild them."""

from __future__ import annotations

import numpy as np
import pytest

from tinycnn.initializers import INITIALIZERS, get_initializer
from tinycnn.layers import Conv2D, Dense, Flatten
from tinycnn.model import Sequential

LIMITS = {  # the documented L of U(-L, L) for fan_in = 300, fan_out = 100
    "glorot_uniform": np.sqrt(6 / 400),
    "he_uniform": np.sqrt(6 / 300),
    "fan_in_uniform": 1 / np.sqrt(300),
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_uniform_schemes_fill_their_interval(name):
    w = get_initializer(name)((300, 100), 300, 100, np.random.default_rng(0))
    L = LIMITS[name]
    assert w.dtype == np.float32 and w.shape == (300, 100)
    assert np.abs(w).max() <= L and np.abs(w).max() > 0.999 * L
    assert abs(w.std() - L / np.sqrt(3)) < 0.01 * L  # the std of U(-L, L) is L / sqrt(3)
    assert abs(w.mean()) < 0.01 * L


def test_zeros_draws_nothing_and_callables_pass_through():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert not get_initializer("zeros")((3, 4), 3, 4, rng).any()
    assert rng.bit_generator.state == state

    def ones(shape, fan_in, fan_out, rng):
        return np.ones(shape, np.float32)

    assert get_initializer(ones) is ones
    assert set(INITIALIZERS) == {"glorot_uniform", "he_uniform", "fan_in_uniform", "zeros"}


@pytest.mark.parametrize("bad", ["glorot", "", 3, None])
def test_unknown_initializers_are_refused_naming_the_choices(bad):
    with pytest.raises(ValueError, match=r"expected an initializer name in \[.*'he_uniform'.*got"):
        Dense(4, kernel_initializer=bad)
    with pytest.raises(ValueError, match="got"):
        Conv2D(4, 3, bias_initializer=bad)


def test_layers_draw_kernel_then_bias_with_their_fans():
    conv = Conv2D(8, 3, kernel_initializer="fan_in_uniform", bias_initializer="fan_in_uniform")
    conv.build((10, 10, 4), np.random.default_rng(1))
    expected = np.random.default_rng(1)
    L = 1 / np.sqrt(3 * 3 * 4)
    w = expected.uniform(-L, L, (3, 3, 4, 8)).astype(np.float32)
    b = expected.uniform(-L, L, 8).astype(np.float32)
    np.testing.assert_array_equal(conv.params["w"], w)
    np.testing.assert_array_equal(conv.params["b"], b)
    dense = Dense(5, kernel_initializer="he_uniform")
    dense.build((20,), np.random.default_rng(2))
    L = np.sqrt(6 / 20)
    np.testing.assert_array_equal(
        dense.params["w"], np.random.default_rng(2).uniform(-L, L, (20, 5)).astype(np.float32)
    )
    assert not dense.params["b"].any()


def test_config_keeps_named_initializers_and_rebuilds_the_same_model():
    layers = [
        Conv2D(2, 3, kernel_initializer="he_uniform"),
        Flatten(),
        Dense(3, bias_initializer="fan_in_uniform"),
    ]
    model = Sequential(layers, input_shape=(5, 5, 1), seed=4)
    config = model.get_config()
    kinds = [layer["config"] for layer in config["layers"]]
    assert kinds[0]["kernel_initializer"] == "he_uniform" and "bias_initializer" not in kinds[0]
    assert kinds[2]["bias_initializer"] == "fan_in_uniform"
    assert "kernel_initializer" not in kinds[2]  # the default is left out
    assert model.layers[2].params["b"].any()
    again = Sequential.from_config(config)  # the same seed: the same draws
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
