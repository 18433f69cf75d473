"""MaxPool2D: oracle parity, first-maximum routing on ties, overlapping windows, "same" padding.

Parity tests run on the active backend. Gradient checks run two forward passes per element, so
they use the reference (NumPy) kernels: they prove the maths, and the Numba twins are
bit-identical to them (test_kernels_numba.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from oracles import maxpool_naive

from tinycnn import runtime
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.testing.gradcheck import gradcheck
from tinycnn.testing.strategies import PoolConfig, pool_configs


def pool_layer(cfg: PoolConfig) -> MaxPool2D:
    layer = MaxPool2D((cfg.KH, cfg.KW), (cfg.SH, cfg.SW), cfg.padding)
    layer.build((cfg.H, cfg.W, cfg.C))
    return layer


def check_against_oracle(cfg: PoolConfig) -> None:
    layer, x = pool_layer(cfg), cfg.x()
    out = layer.forward(x)
    dout = np.random.default_rng(cfg.seed + 1).standard_normal(out.shape)
    expected_out, expected_dx = maxpool_naive(x, layer.pool_size, layer.strides, cfg.padding, dout)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(layer.backward(dout), expected_dx, rtol=1e-13, atol=1e-13)


@given(pool_configs())
def test_forward_and_backward_equal_the_oracle(cfg):
    check_against_oracle(cfg)


@given(pool_configs(ties=True))
def test_ties_route_the_gradient_to_the_first_maximum(cfg):
    check_against_oracle(cfg)


@given(pool_configs(ties=True))
def test_switches_are_np_argmax_of_each_window(cfg):
    layer, x = pool_layer(cfg), cfg.x()
    layer.forward(x)
    argmax = layer.decision_state()
    (KH, KW), (SH, SW) = layer.pool_size, layer.strides
    top, left = _pads(cfg)
    x_pad = np.pad(x, ((0, 0), top, left, (0, 0)), constant_values=-np.inf)
    for n, i, j, c in np.ndindex(argmax.shape):
        window = x_pad[n, SH * i : SH * i + KH, SW * j : SW * j + KW, c]
        assert argmax[n, i, j, c] == np.argmax(window)


def _pads(cfg: PoolConfig):
    if cfg.padding == "valid":
        return (0, 0), (0, 0)
    pads = []
    for H, K, S in ((cfg.H, cfg.KH, cfg.SH), (cfg.W, cfg.KW, cfg.SW)):
        total = max((math.ceil(H / S) - 1) * S + K - H, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


@given(pool_configs())
def test_gradients_pass_the_float64_check(cfg):
    with runtime.use_backend("numpy"):  # see the module docstring
        result = gradcheck(pool_layer(cfg), cfg.x(), seed=cfg.seed)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing
    assert result.tensors[0].n_kinks == 0  # distinct continuous values: no winner flips


@given(pool_configs())
def test_output_shape_follows_the_formula(cfg):
    if cfg.padding == "valid":
        OH, OW = (cfg.H - cfg.KH) // cfg.SH + 1, (cfg.W - cfg.KW) // cfg.SW + 1
    else:
        OH, OW = math.ceil(cfg.H / cfg.SH), math.ceil(cfg.W / cfg.SW)
    layer = pool_layer(cfg)
    assert layer.forward(cfg.x()).shape == (cfg.N, OH, OW, cfg.C)
    assert layer.output_shape((cfg.H, cfg.W, cfg.C)) == (OH, OW, cfg.C)


def test_a_tied_window_sends_everything_to_its_top_left():
    layer = MaxPool2D(2)
    x = np.array([[5.0, 5.0, 1.0, 7.0], [5.0, 5.0, 7.0, 7.0]]).reshape(1, 2, 4, 1)
    np.testing.assert_array_equal(layer.forward(x).ravel(), [5.0, 7.0])
    dx = layer.backward(np.array([2.0, 3.0]).reshape(1, 1, 2, 1))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[2, 0, 0, 3], [0, 0, 0, 0]])


def test_overlapping_windows_add_their_gradients():
    layer = MaxPool2D((1, 2), strides=1)  # windows {0,1}, {1,2}, {2,3} on one row
    x = np.array([1.0, 3.0, 2.0, 0.0]).reshape(1, 1, 4, 1)
    np.testing.assert_array_equal(layer.forward(x).ravel(), [3.0, 3.0, 2.0])
    dx = layer.backward(np.array([10.0, 20.0, 40.0]).reshape(1, 1, 3, 1))
    np.testing.assert_array_equal(dx.ravel(), [0.0, 30.0, 40.0, 0.0])


def test_same_padding_adds_minus_infinity_at_the_bottom_right():
    layer = MaxPool2D(2, padding="same")  # 3x3 input: one -inf row and column at the end
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # all negative: zero padding would win
    out = layer.forward(x)
    np.testing.assert_array_equal(out[0, :, :, 0], [[-1, -3], [-7, -9]])
    dx = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_strides_default_to_the_pool_size_and_config_round_trips():
    layer = MaxPool2D((3, 2), name="p")
    assert layer.strides == (3, 2)
    config = json.loads(json.dumps(layer.get_config()))
    assert config == {"pool_size": [3, 2], "strides": [3, 2], "padding": "valid", "name": "p"}
    assert MaxPool2D(**config).get_config() == layer.get_config()
    assert MaxPool2D().output_shape((26, 26, 32)) == (13, 13, 32)
    assert MaxPool2D().output_shape((11, 11, 64)) == (5, 5, 64)


def test_float32_in_float32_out():
    out = MaxPool2D().forward(np.ones((1, 4, 4, 2), dtype=np.float32))
    assert out.dtype == np.float32


def test_decision_state_changes_when_the_winner_changes():
    layer = MaxPool2D(2)
    x = np.array([1.0, 2.0, 3.0, 0.0]).reshape(1, 2, 2, 1)
    layer.forward(x)
    before = layer.decision_state().copy()
    x[0, 0, 0, 0] = 4.0
    layer.forward(x)
    assert before.ravel().tolist() == [2] and layer.decision_state().ravel().tolist() == [0]


def test_errors_name_expected_and_received():
    layer = MaxPool2D(2)
    layer.build((6, 6, 3))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, H, W, C\), got \(6, 6\)"):
        layer.forward(np.zeros((6, 6)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\), got \(1, 6, 6, 2\)"):
        layer.forward(np.zeros((1, 6, 6, 2)))
    with pytest.raises(ValueError, match=r"at least 3x3, got input_shape \(2, 6, 1\)"):
        MaxPool2D(3).forward(np.zeros((1, 2, 6, 1)))
    with pytest.raises(ValueError, match="pool_size must be a positive int"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match="strides must be"):
        MaxPool2D(2, strides=(1, 2, 3))
    with pytest.raises(ValueError, match="padding must be one of"):
        MaxPool2D(2, padding="full")
