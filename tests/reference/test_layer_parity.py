"""Every tinycnn layer against its Keras twin: outputs, input gradient, parameter gradients.

Method: build the tinycnn layer, build the Keras layer with the same hyperparameters, copy the
weights with ``keras_layer.set_weights(layer.get_weights())`` (NHWC/HWIO: no transposes), run one
forward pass on random inputs, then compare the vector-Jacobian products for a random upstream
gradient ``dout`` (never all ones): tinycnn's ``backward(dout)`` against ``tf.GradientTape`` on
``sum(out * dout)``.

Errors: forward outputs by max absolute difference; gradients by the norm-wise relative error
``max|a - b| / max|b|`` per tensor (element-wise relative errors blow up on entries near zero).
Tolerances: float32 outputs 1e-5, gradients 1e-4; float64 outputs 1e-12, gradients 1e-10.

The Conv2D and MaxPool2D properties draw shapes, strides and paddings with hypothesis (the
configurations of ``tinycnn.testing.strategies``: non-square kernels, strides 1-3, both paddings,
sometimes non-contiguous inputs), including odd sizes where "same" padding is uneven (the extra
row/column goes at the bottom/right in both).
Each example calls TensorFlow eagerly (milliseconds), so they run a fixed, modest
``max_examples`` (60 in float32, 40 in float64) whatever the profile says.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.dense import Dense
from tinycnn.layers.dropout import Dropout
from tinycnn.layers.flatten import Flatten
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.layers.relu import ReLU
from tinycnn.layers.softmax import Softmax
from tinycnn.testing.strategies import ConvConfig, PoolConfig, conv_configs, pool_configs

TOL = {
    np.float32: {"out": 1e-5, "grad": 1e-4},
    np.float64: {"out": 1e-12, "grad": 1e-10},
}
PROPERTY_EXAMPLES = {np.float32: 60, np.float64: 40}


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-wise relative error ``max|a - b| / max|b|`` (0 when both are all zeros)."""
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    scale = float(np.max(np.abs(b), initial=0.0))
    diff = float(np.max(np.abs(np.asarray(a, np.float64) - b), initial=0.0))
    return diff / scale if scale > 0 else diff


def tinycnn_pass(layer: Any, x: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, list, Any]:
    """Forward then backward in tinycnn: ``(out, [dparam in params order], dx)``."""
    out = layer.forward(x, training=False)
    dx = layer.backward(dout.astype(out.dtype))
    return out, [layer.grads[key] for key in layer.params], dx


def keras_pass(tf: Any, keras_layer: Any, x: np.ndarray, dout: np.ndarray) -> tuple:
    """The same with TensorFlow: ``tf.GradientTape`` on ``sum(out * dout)``."""
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        out = keras_layer(x_t, training=False)
        scalar = tf.reduce_sum(out * tf.constant(dout, dtype=out.dtype))
    *dparams, dx = tape.gradient(scalar, [*keras_layer.weights, x_t])
    return out.numpy(), [g.numpy() for g in dparams], dx.numpy()


def parity_errors(tf: Any, layer: Any, keras_layer: Any, x: np.ndarray, seed: int = 1) -> dict:
    """Build both layers on ``x``, copy the weights, and return every error by name.

    Keys: ``"out"`` (max abs), ``"dx"`` and one per parameter, e.g. ``"dw"``, ``"db"``
    (norm-wise relative errors).
    """
    rng = np.random.default_rng(seed)
    if not layer.built:
        layer.build(x.shape[1:], rng=rng)
    keras_layer.build(x.shape)
    keras_layer.set_weights(layer.get_weights())
    out_t = layer.forward(x, training=False)
    dout = rng.standard_normal(out_t.shape)
    out_t, grads_t, dx_t = tinycnn_pass(layer, x, dout)
    out_k, grads_k, dx_k = keras_pass(tf, keras_layer, x, dout)
    assert out_t.shape == out_k.shape, f"output shape {out_t.shape}, Keras {out_k.shape}"
    assert out_t.dtype == x.dtype, f"output dtype {out_t.dtype} for {x.dtype} input"
    errors = {"out": float(np.max(np.abs(out_t - out_k), initial=0.0)), "dx": rel_error(dx_t, dx_k)}
    for key, g_t, g_k in zip(layer.params, grads_t, grads_k, strict=True):
        errors[f"d{key}"] = rel_error(g_t, g_k)
    return errors


def assert_parity(errors: dict, dtype: type) -> None:
    """Outputs within the max-abs tolerance, every gradient within the relative tolerance."""
    tol = TOL[dtype]
    assert errors["out"] <= tol["out"], f"forward differs from Keras: {errors}"
    for name, err in errors.items():
        if name != "out":
            assert err <= tol["grad"], f"{name} differs from TensorFlow: {errors}"


def random_input(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def with_layer_dtype(layer: Any, dtype: type) -> Any:
    return layer.astype(dtype) if dtype is np.float64 else layer


# -- fixed configurations, every layer type, both dtypes ----------------------------------------
KERAS_TWIN = {
    Conv2D: "Conv2D",
    MaxPool2D: "MaxPooling2D",
    Dense: "Dense",
    Flatten: "Flatten",
    ReLU: "ReLU",
    Softmax: "Softmax",
    Dropout: "Dropout",
}
# (case name, layer class, keyword arguments both libraries accept, input shape with batch)
LAYER_CASES = [
    ("conv relu", Conv2D, {"filters": 5, "kernel_size": 3, "activation": "relu"}, (2, 8, 7, 3)),
    ("conv same s2", Conv2D, {"filters": 4, "kernel_size": (3, 2), "strides": 2, "padding": "same"},
     (2, 7, 9, 2)),
    ("conv softmax", Conv2D, {"filters": 3, "kernel_size": 2, "activation": "softmax"},
     (1, 5, 4, 2)),
    ("pool 2", MaxPool2D, {"pool_size": 2}, (2, 8, 6, 3)),
    ("pool same odd", MaxPool2D, {"pool_size": 2, "padding": "same"}, (2, 7, 5, 2)),
    ("pool 3 s2 overlapping", MaxPool2D, {"pool_size": 3, "strides": 2}, (1, 9, 7, 2)),
    ("dense", Dense, {"units": 7}, (4, 11)),
    ("dense relu", Dense, {"units": 6, "activation": "relu"}, (5, 9)),
    ("dense softmax", Dense, {"units": 10, "activation": "softmax"}, (3, 12)),
    ("flatten", Flatten, {}, (2, 3, 4, 5)),
    ("relu", ReLU, {}, (3, 4, 5, 2)),
    ("softmax", Softmax, {}, (4, 10)),
    ("dropout at inference", Dropout, {"rate": 0.5, "seed": 0}, (3, 8)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_every_layer_matches_keras(tf: Any, keras: Any, dtype: type) -> None:
    failures = {}
    for name, layer_class, kwargs, shape in LAYER_CASES:
        layer = layer_class(**kwargs)
        keras_layer = getattr(keras.layers, KERAS_TWIN[layer_class])(
            **kwargs, dtype=np.dtype(dtype).name
        )
        layer.build(shape[1:], rng=np.random.default_rng(3))
        x = random_input(shape, dtype)
        errors = parity_errors(tf, with_layer_dtype(layer, dtype), keras_layer, x)
        try:
            assert_parity(errors, dtype)
        except AssertionError:
            failures[name] = errors
    assert not failures, f"layers differing from Keras ({np.dtype(dtype).name}): {failures}"


def test_dropout_training_scales_like_keras(tf: Any, keras: Any) -> None:
    """Masks cannot match, but the rule can: kept units are x / (1 - rate), dropped are 0."""
    rate = 0.3
    x = np.random.default_rng(0).uniform(1.0, 2.0, size=(50, 40)).astype(np.float32)
    layer = Dropout(rate, seed=0)
    layer.build(x.shape[1:], rng=np.random.default_rng(0))
    for out in (
        layer.forward(x, training=True),
        keras.layers.Dropout(rate, seed=0)(tf.constant(x), training=True).numpy(),
    ):
        kept = out != 0
        np.testing.assert_allclose(out[kept], x[kept] / (1 - rate), rtol=1e-6)
        assert abs(1 - kept.mean() - rate) < 0.03, f"dropped fraction {1 - kept.mean():.3f}"


# -- drawn configurations: Conv2D and MaxPool2D (strategies shared with tests/layers/test_conv2d.py)
def conv_errors(
    tf: Any, keras: Any, cfg: ConvConfig, dtype: type, activation: str | None = None,
    layer_class: type = Conv2D,
) -> dict:  # fmt: skip
    kwargs = {"strides": (cfg.SH, cfg.SW), "padding": cfg.padding, "activation": activation}
    layer = layer_class(cfg.F, (cfg.KH, cfg.KW), **kwargs)
    layer.build(cfg.x_shape[1:], rng=np.random.default_rng(cfg.seed))
    keras_layer = keras.layers.Conv2D(cfg.F, (cfg.KH, cfg.KW), **kwargs, dtype=np.dtype(dtype).name)
    x = cfg.x(dtype)  # sometimes a non-contiguous view
    return parity_errors(tf, with_layer_dtype(layer, dtype), keras_layer, x, cfg.seed)


def pool_errors(tf: Any, keras: Any, cfg: PoolConfig, dtype: type) -> dict:
    kwargs = {"strides": (cfg.SH, cfg.SW), "padding": cfg.padding}
    layer = MaxPool2D((cfg.KH, cfg.KW), **kwargs)
    keras_layer = keras.layers.MaxPooling2D((cfg.KH, cfg.KW), **kwargs, dtype=np.dtype(dtype).name)
    # Standard normals, negative too: padding "same" with 0 instead of -inf would show.
    return parity_errors(tf, layer, keras_layer, cfg.x(dtype), cfg.seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_conv2d_matches_keras_on_drawn_shapes(tf: Any, keras: Any, dtype: type) -> None:
    @settings(max_examples=PROPERTY_EXAMPLES[dtype], deadline=None)
    @given(cfg=conv_configs(), activation=st.sampled_from([None, "relu"]))
    def check(cfg: ConvConfig, activation: str | None) -> None:
        assert_parity(conv_errors(tf, keras, cfg, dtype, activation), dtype)

    check()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_maxpool2d_matches_keras_on_drawn_shapes(tf: Any, keras: Any, dtype: type) -> None:
    @settings(max_examples=PROPERTY_EXAMPLES[dtype], deadline=None)
    @given(cfg=pool_configs())
    def check(cfg: PoolConfig) -> None:
        assert_parity(pool_errors(tf, keras, cfg, dtype), dtype)

    check()


@settings(max_examples=40, deadline=None)
@given(cfg=pool_configs(ties=True))
def test_maxpool2d_ties_route_like_tensorflow(tf: Any, keras: Any, cfg: PoolConfig) -> None:
    """Small integers force ties: both send the gradient to the first maximum (row-major)."""
    errors = pool_errors(tf, keras, cfg, np.float32)
    assert errors["out"] == 0.0 and errors["dx"] <= 1e-6, f"tie routing differs: {errors}"


@pytest.mark.parametrize(
    ("H", "W", "K", "S"),
    [(7, 7, (2, 2), (2, 2)), (5, 8, (3, 3), (2, 2)), (9, 4, (2, 3), (3, 1)), (4, 4, (4, 4), (3, 3)),
     (1, 6, (3, 3), (2, 2))],
)  # fmt: skip
def test_uneven_same_padding_matches_keras(
    tf: Any, keras: Any, H: int, W: int, K: tuple, S: tuple
) -> None:
    """Odd sizes where "same" needs an odd total padding: the extra goes bottom/right."""
    common = {"N": 2, "H": H, "W": W, "C": 2, "KH": K[0], "KW": K[1], "SH": S[0], "SW": S[1]}
    common |= {"padding": "same", "layout": "contiguous", "seed": 7}
    conv = ConvConfig(F=3, **common)
    assert_parity(conv_errors(tf, keras, conv, np.float64), np.float64)
    pool = PoolConfig(ties=False, **common)
    assert_parity(pool_errors(tf, keras, pool, np.float64), np.float64)


def test_conv2d_where_onednn_is_wrong(tf: Any, keras: Any) -> None:
    """A float32 case that tensorflow-cpu 2.21 gets wrong with oneDNN on (see conftest).

    W = 1 with a 1 x 2 kernel, strides (1, 2) and "same" padding: one zero column on the right.
    tinycnn and TensorFlow's Eigen kernels agree; oneDNN returned -1.46e29 for every second row.
    """
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0", "the conftest must switch oneDNN off"
    cfg = ConvConfig(N=2, H=2, W=1, C=1, F=1, KH=1, KW=2, SH=1, SW=2, padding="same",
                     layout="contiguous", seed=0)  # fmt: skip
    assert_parity(conv_errors(tf, keras, cfg, np.float32), np.float32)
    x = np.arange(1, 5, dtype=np.float32).reshape(2, 2, 1, 1)
    layer = Conv2D(1, (1, 2), strides=(1, 2), padding="same")
    layer.build((2, 1, 1))
    layer.set_weights([np.array([1.0, 10.0], np.float32).reshape(1, 2, 1, 1), np.zeros(1)])
    np.testing.assert_array_equal(layer.forward(x).ravel(), [1, 2, 3, 4])


# -- the parity check can fail ------------------------------------------------------------------
class SignFlippedBiasConv2D(Conv2D):
    """A mutant: the bias gradient comes back with the wrong sign."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = super().backward(dout)
        self.grads["b"] = -self.grads["b"]
        return dx


class SignFlippedInputConv2D(Conv2D):
    """A mutant: one channel of the input gradient has the wrong sign."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = super().backward(dout).copy()
        dx[..., 0] = -dx[..., 0]
        return dx


class SignFlippedMaxPool2D(MaxPool2D):
    """A mutant: the routed gradient is negated."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return super().backward(-dout)


@pytest.mark.parametrize(
    ("mutant", "broken"), [(SignFlippedBiasConv2D, "db"), (SignFlippedInputConv2D, "dx")]
)
def test_parity_catches_a_sign_flipped_conv_backward(
    tf: Any, keras: Any, mutant: type, broken: str
) -> None:
    cfg = ConvConfig(N=2, H=6, W=5, C=2, F=3, KH=3, KW=3, SH=1, SW=1, padding="same",
                     layout="contiguous", seed=11)  # fmt: skip
    healthy = conv_errors(tf, keras, cfg, np.float32, "relu")
    assert_parity(healthy, np.float32)
    errors = conv_errors(tf, keras, cfg, np.float32, "relu", layer_class=mutant)
    assert errors[broken] > 1.0, f"mutant not caught: {errors}"
    with pytest.raises(AssertionError, match=f"{broken} differs"):
        assert_parity(errors, np.float32)


def test_parity_catches_a_sign_flipped_pool_backward(tf: Any, keras: Any) -> None:
    x = random_input((2, 6, 6, 2), np.float32)
    errors = parity_errors(tf, SignFlippedMaxPool2D(2), keras.layers.MaxPooling2D(2), x)
    assert errors["out"] == 0.0 and errors["dx"] > 1.0, f"mutant not caught: {errors}"
    with pytest.raises(AssertionError, match="dx differs"):
        assert_parity(errors, np.float32)
