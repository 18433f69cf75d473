"""Dense: the affine map by definition, initialisation, activations, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import Dense, ReLU
from tinycnn.testing.gradcheck import gradcheck

# (N, D, units, activation, seed, non-contiguous input?)
configs = st.tuples(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 5),
    st.sampled_from([None, "relu", "softmax"]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)


def make(N, D, units, activation, seed, strided):
    """A built float64 Dense with a random (non-zero) bias and its input."""
    rng = np.random.default_rng(seed)
    layer = Dense(units, activation=activation)
    layer.build((D,), rng)
    layer.astype(np.float64)
    layer.params["b"] = rng.normal(size=units)
    x = rng.normal(size=(N, 2 * D if strided else D))
    return layer, x[:, ::2] if strided else x


def dense_oracle(x, w, b):
    """out[n,u] = b[u] + Σ_d x[n,d] w[d,u], by loops."""
    N, D = x.shape
    out = np.zeros((N, w.shape[1]))
    for n in range(N):
        for u in range(w.shape[1]):
            out[n, u] = b[u] + sum(x[n, d] * w[d, u] for d in range(D))
    return out


@given(configs)
def test_forward_equals_the_loop_definition(config):
    layer, x = make(*config[:3], None, *config[4:])
    expected = dense_oracle(x, layer.params["w"], layer.params["b"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@given(configs)
def test_gradcheck(config):
    layer, x = make(*config)
    # Central differences err by ~eps**2 (truncation) plus ~1e-16 / eps (rounding). With a
    # softmax the gradients can all be ~1e-2 while the outputs are ~1, and at eps = 1e-5 the
    # rounding term alone reached 1.1e-7; eps = 3e-5 keeps both terms well under 1e-7.
    result = gradcheck(layer, x, seed=config[4], eps=3e-5)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing
    assert [t.name for t in result.tensors] == ["x", "dense/w", "dense/b"]


@given(configs)
def test_relu_shortcut_equals_dense_then_relu(config):
    layer, x = make(*config[:3], "relu", *config[4:])
    plain = Dense(layer.units)
    plain.build(layer.input_shape)
    plain.astype(np.float64)
    plain.set_weights(layer.get_weights())
    relu = ReLU()
    np.testing.assert_array_equal(layer.forward(x), relu.forward(plain.forward(x)))
    dout = np.random.default_rng(1).normal(size=(x.shape[0], layer.units))
    np.testing.assert_array_equal(layer.backward(dout), plain.backward(relu.backward(dout)))
    np.testing.assert_array_equal(layer.grads["w"], plain.grads["w"])


def test_glorot_uniform_initialisation_and_zero_bias():
    layer = Dense(300)
    layer.build((500,), np.random.default_rng(0))
    w, b = layer.params["w"], layer.params["b"]
    limit = np.sqrt(6 / (500 + 300))
    assert w.shape == (500, 300) and w.dtype == np.float32
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    # U(-L, L) has variance L²/3; with 150,000 draws the sample variance is within 1%.
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.01)
    np.testing.assert_array_equal(b, np.zeros(300, dtype=np.float32))
    assert layer.count_params() == 500 * 300 + 300


def test_same_seed_same_weights():
    a, b = Dense(4), Dense(4)
    a.build((3,), np.random.default_rng(7))
    b.build((3,), np.random.default_rng(7))
    np.testing.assert_array_equal(a.params["w"], b.params["w"])


def test_computes_in_the_dtype_of_its_parameters():
    layer = Dense(2)
    layer.build((3,), np.random.default_rng(0))
    assert layer.forward(np.ones((1, 3))).dtype == np.float32
    layer.astype(np.float64)
    assert layer.forward(np.ones((1, 3), dtype=np.float32)).dtype == np.float64
    assert layer.backward(np.ones((1, 2))).dtype == np.float64


def test_wrong_input_width_names_expected_and_received_shapes():
    layer = Dense(4, name="head")
    layer.build((5,))
    with pytest.raises(ValueError, match=r"head: expected input of shape \(N, 5\), got \(2, 4\)"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 5\), got \(2, 1, 5\)"):
        layer.forward(np.zeros((2, 1, 5)))


def test_build_needs_flat_inputs():
    with pytest.raises(ValueError, match=r"expected input shape \(D,\).*got \(3, 4\)"):
        Dense(2).build((3, 4))


@pytest.mark.parametrize("units", [0, -3, 2.5])
def test_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match="units must be a positive integer"):
        Dense(units)


def test_unknown_activation_lists_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'tanh'.*'relu', 'softmax'"):
        Dense(3, activation="tanh")


def test_config_rebuilds_the_layer():
    layer = Dense(7, activation="relu", name="hidden")
    config = layer.get_config()
    assert config == {"units": 7, "activation": "relu", "name": "hidden"}
    rebuilt = Dense(**config)
    assert rebuilt.get_config() == config
    assert isinstance(rebuilt.activation, ReLU)
    assert Dense(3, activation="linear").activation is None
