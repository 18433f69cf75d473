"""Conv2D: equals the loop-by-definition oracle, passes float64 gradient checks, fails loudly.

Parity tests run on the active backend. Gradient checks run two forward passes per element, so
they use the reference (NumPy) kernels: they prove the maths, and the Numba twins are
bit-identical to them (test_kernels_numba.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from oracles import conv2d_naive

from tinycnn import runtime
from tinycnn.layers.conv2d import Conv2D
from tinycnn.testing.gradcheck import gradcheck
from tinycnn.testing.strategies import ConvConfig, conv_configs


def built_conv(cfg: ConvConfig, activation=None, dtype=np.float64) -> Conv2D:
    """A Conv2D for ``cfg`` with Glorot kernel and a random (nonzero) bias."""
    layer = Conv2D(cfg.F, (cfg.KH, cfg.KW), (cfg.SH, cfg.SW), cfg.padding, activation)
    rng = np.random.default_rng(cfg.seed + 1)
    layer.build((cfg.H, cfg.W, cfg.C), rng)
    layer.params["b"] = rng.standard_normal(cfg.F).astype(np.float32)
    return layer.astype(dtype)


@given(conv_configs())
def test_forward_equals_the_oracle(cfg):
    layer = built_conv(cfg)
    x = cfg.x()
    expected = conv2d_naive(x, layer.params["w"], layer.params["b"], layer.strides, cfg.padding)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@given(conv_configs())
def test_float32_forward_stays_float32_and_close_to_float64(cfg):
    layer = built_conv(cfg, dtype=np.float32)
    out = layer.forward(cfg.x(np.float32))
    w64, b64 = (p.astype(np.float64) for p in layer.get_weights())
    assert out.dtype == np.float32
    expected = conv2d_naive(cfg.x(), w64, b64, layer.strides, cfg.padding)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@given(conv_configs())
def test_gradients_pass_the_float64_check(cfg):
    with runtime.use_backend("numpy"):  # see the module docstring
        result = gradcheck(built_conv(cfg), cfg.x(), seed=cfg.seed)
    assert [t.name for t in result.tensors] == ["x", "conv2d/w", "conv2d/b"]
    assert sum(t.n_kinks for t in result.tensors) == 0  # no ReLU, no max: nothing to flip
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


@given(conv_configs())
def test_relu_shortcut_gradients_pass_away_from_kinks(cfg):
    with runtime.use_backend("numpy"):  # see the module docstring
        result = gradcheck(built_conv(cfg, activation="relu"), cfg.x(), seed=cfg.seed)
    assert result.max_rel_error <= 1e-7, str(result)
    x_check, w_check, _ = result.tensors  # a bias element may sit at a kink for every pixel
    assert x_check.n_checked > 0 and w_check.n_checked > 0  # not passed by checking nothing


def test_relu_shortcut_equals_conv_then_relu():
    cfg = ConvConfig(2, 5, 6, 3, 4, 3, 2, 1, 2, "same", "contiguous", seed=7)
    plain, fused = built_conv(cfg), built_conv(cfg, activation="relu")
    x = cfg.x()
    dout = np.random.default_rng(0).standard_normal((2, 5, 3, 4))
    z = plain.forward(x)
    np.testing.assert_array_equal(fused.forward(x), np.maximum(z, 0))
    np.testing.assert_array_equal(fused.backward(dout), plain.backward(dout * (z > 0)))
    np.testing.assert_array_equal(fused.grads["w"], plain.grads["w"])
    assert (z <= 0).any() and (z > 0).any()  # the mask really cut something


def test_glorot_uniform_kernel_and_zero_bias():
    layer = Conv2D(16, (3, 5))
    layer.build((10, 12, 4), np.random.default_rng(0))
    w = layer.params["w"]
    limit = np.sqrt(6 / (3 * 5 * 4 + 3 * 5 * 16))
    assert w.shape == (3, 5, 4, 16) and w.dtype == np.float32
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.05 * limit  # std of U(-a, a) is a/sqrt(3)
    np.testing.assert_array_equal(layer.params["b"], np.zeros(16, dtype=np.float32))
    again = Conv2D(16, (3, 5))
    again.build((10, 12, 4), np.random.default_rng(0))
    np.testing.assert_array_equal(again.params["w"], w)  # the generator fixes the weights


@given(conv_configs())
def test_output_shape_matches_forward(cfg):
    layer = built_conv(cfg)
    assert layer.forward(cfg.x()).shape[1:] == layer.output_shape((cfg.H, cfg.W, cfg.C))


def test_seed_model_first_layer_shapes():
    layer = Conv2D(32, 3, activation="relu")
    layer.build((28, 28, 1), np.random.default_rng(0))
    assert layer.output_shape((28, 28, 1)) == (26, 26, 32)
    assert layer.count_params() == 3 * 3 * 1 * 32 + 32
    assert Conv2D(8, 3, strides=2, padding="same").output_shape((28, 27, 1)) == (14, 14, 8)


def test_config_round_trips_through_json():
    layer = Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu", name="c1")
    config = json.loads(json.dumps(layer.get_config()))
    clone = Conv2D(**config)
    assert clone.get_config() == layer.get_config()
    assert config == {
        "filters": 4,
        "kernel_size": [3, 2],
        "strides": [2, 1],
        "padding": "same",
        "activation": "relu",
        "name": "c1",
    }


def test_input_errors_name_expected_and_received_shapes():
    layer = Conv2D(2, 3)
    layer.build((8, 8, 3), np.random.default_rng(0))
    with pytest.raises(
        ValueError, match=r"expected input of shape \(N, H, W, 3\), got \(8, 8, 3\)"
    ):
        layer.forward(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\), got \(1, 8, 8, 1\)"):
        layer.forward(np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"at least 3x3, got input_shape \(2, 8, 3\)"):
        layer.forward(np.zeros((1, 2, 8, 3)))
    with pytest.raises(RuntimeError, match="not built"):
        Conv2D(2, 3).forward(np.zeros((1, 8, 8, 3)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 0, "kernel_size": 3}, "filters must be a positive int, got 0"),
        ({"filters": 2.5, "kernel_size": 3}, "filters must be a positive int"),
        ({"filters": 2, "kernel_size": 0}, "kernel_size must be a positive int"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size must be"),
        ({"filters": 2, "kernel_size": 3, "strides": (1, 0)}, "strides must be"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding must be one of"),
        ({"filters": 2, "kernel_size": 3, "activation": "tanh"}, "unknown activation 'tanh'"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(**kwargs)
