"""Softmax layer and function: probabilities, stability, Jacobian and gradient checks."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import Softmax
from tinycnn.layers.softmax import softmax
from tinycnn.testing.gradcheck import gradcheck

configs = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**32 - 1))


def draw_logits(N, K, seed, scale=3.0):
    return np.random.default_rng(seed).normal(0, scale, size=(N, K))


@given(configs, st.floats(-100, 100))
def test_rows_are_probabilities_and_shift_invariant(config, shift):
    z = draw_logits(*config)
    p = softmax(z)
    assert (p > 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(softmax(z + shift), p, rtol=1e-12, atol=1e-300)


@given(configs)
def test_equals_the_naive_formula(config):
    z = draw_logits(*config)
    naive = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in z.tolist()]
    np.testing.assert_allclose(softmax(z), naive, rtol=1e-13)


@given(configs)
def test_backward_is_the_jacobian_transpose_times_dout(config):
    z = draw_logits(*config)
    dout = np.random.default_rng(config[2] + 1).normal(size=z.shape)
    layer = Softmax()
    p = layer.forward(z)
    dx = layer.backward(dout)
    for n in range(z.shape[0]):
        jacobian = np.diag(p[n]) - np.outer(p[n], p[n])  # ∂p[k]/∂z[j]
        np.testing.assert_allclose(dx[n], jacobian.T @ dout[n], rtol=1e-10, atol=1e-15)


@given(configs)
def test_gradcheck(config):
    # Unit-scale logits: when one probability is within 1e-5 of 1, every gradient entry is
    # ~1e-5 and float64 rounding of p (~1e-16 / eps) alone gives relative errors ~1e-7.
    z = draw_logits(*config, scale=1.0)
    # eps near the optimum (1e-16)**(1/3) of central differences, where truncation error
    # (~eps**2) and rounding noise (~1e-16 / eps) balance.
    result = gradcheck(Softmax(), z, seed=config[2], eps=1e-5)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


def test_stable_for_huge_logits_and_keeps_dtype():
    z = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):
        p = Softmax().forward(z)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
