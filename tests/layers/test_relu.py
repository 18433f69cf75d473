"""ReLU: forward, backward, its decision state, and gradient checks away from the kink."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import ReLU
from tinycnn.testing.gradcheck import gradcheck

# Shapes (N, H, W, C) with N 1-3 and H != W allowed, plus a seed for the values.
configs = st.tuples(
    st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)


def draw_input(dims, N, seed, strided):
    """Normal values (no exact zeros, so no kinks); a non-contiguous view when ``strided``."""
    x = np.random.default_rng(seed).normal(size=(N, *dims, 2 if strided else 1))
    return x[..., 0]


@given(configs)
def test_forward_and_backward_match_the_definition(config):
    dims, N, seed, strided = config
    x = draw_input(dims, N, seed, strided)
    dout = np.random.default_rng(seed + 1).normal(size=x.shape)
    relu = ReLU()
    np.testing.assert_array_equal(relu.forward(x), np.where(x > 0, x, 0.0))
    np.testing.assert_array_equal(relu.backward(dout), np.where(x > 0, dout, 0.0))
    np.testing.assert_array_equal(relu.decision_state(), x > 0)


@given(configs)
def test_gradcheck_away_from_the_kink(config):
    dims, N, seed, strided = config
    x = draw_input(dims, N, seed, strided)
    result = gradcheck(ReLU(), x, seed=seed)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


def test_gradcheck_flags_an_input_at_the_kink():
    x = np.array([[-1.0, 0.0, 2.0, 1e-9]])
    result = gradcheck(ReLU(), x)
    (check,) = result.tensors
    assert check.n_kinks == 2  # 0 and 1e-9 both lie within eps = 1e-6 of the kink
    assert result.max_rel_error <= 1e-7


def test_subgradient_at_zero_is_zero_and_dtype_is_kept():
    relu = ReLU()
    x = np.array([[-2.0, 0.0, 3.0]], dtype=np.float32)
    out = relu.forward(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.0, 0.0, 3.0]])
    assert not np.signbit(out).any()  # no -0.0 from the negative inputs
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), [[0.0, 0.0, 1.0]])


def test_has_no_parameters_and_rebuilds_from_config():
    relu = ReLU(name="act")
    relu.build((3, 4))
    assert relu.count_params() == 0
    assert relu.output_shape((3, 4)) == (3, 4)
    assert ReLU(**relu.get_config()).name == "act"


@pytest.mark.parametrize("training", [False, True])
def test_same_in_training_and_inference(training):
    x = np.array([[-1.0, 1.0]])
    np.testing.assert_array_equal(ReLU().forward(x, training=training), [[0.0, 1.0]])
