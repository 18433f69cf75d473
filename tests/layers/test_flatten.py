"""Flatten: Keras's (H, W, C) feature order, the inverse reshape, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import Flatten
from tinycnn.testing.gradcheck import gradcheck

# (N, H, W, C, seed, non-contiguous?) with H and W drawn independently (often H != W).
configs = st.tuples(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)


def draw_input(N, H, W, C, seed, strided):
    x = np.random.default_rng(seed).normal(size=(N, H, 2 * W if strided else W, C))
    return x[:, :, ::2] if strided else x


@given(configs)
def test_features_are_ordered_h_then_w_then_c(config):
    x = draw_input(*config)
    N, H, W, C = x.shape
    out = Flatten().forward(x)
    assert out.shape == (N, H * W * C)
    for n, i, j, c in np.ndindex(x.shape):
        assert out[n, (i * W + j) * C + c] == x[n, i, j, c]


@given(configs)
def test_backward_restores_the_input_shape(config):
    x = draw_input(*config)
    layer = Flatten()
    out = layer.forward(x)
    dout = np.random.default_rng(0).normal(size=out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dx.reshape(out.shape), dout)


@given(configs)
def test_gradcheck(config):
    x = draw_input(*config)
    result = gradcheck(Flatten(), x, seed=config[4])
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


def test_output_shape_and_no_parameters():
    layer = Flatten()
    layer.build((5, 5, 64))
    assert layer.output_shape((5, 5, 64)) == (1600,)
    assert layer.count_params() == 0


def test_needs_a_batch_axis():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, \.\.\.\), got \(4,\)"):
        Flatten().forward(np.zeros(4))
