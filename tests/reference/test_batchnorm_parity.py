"""BatchNormalization and learning-rate schedules against Keras.

BatchNormalization: forward in both modes, the gradients of γ, β and x in both modes, the moving
statistics after 20 training steps on drawn batches, and the weights (moving statistics included)
copied both ways by ``to_keras``/``from_keras``. Tolerances as in ``test_layer_parity.py``:
float32 outputs 1e-5 (max abs), gradients 1e-4 (norm-wise relative); float64 1e-12 and 1e-10.
Schedules and ReduceLROnPlateau: tinycnn's values against Keras's over a run's steps/epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinycnn.interop import from_keras, to_keras
from tinycnn.layers import BatchNormalization, Conv2D, Dense, Flatten
from tinycnn.model import Sequential
from tinycnn.optim import SGD
from tinycnn.optim.schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay
from tinycnn.training.callbacks import ReduceLROnPlateau

TOL = {np.float32: {"out": 1e-5, "grad": 1e-4}, np.float64: {"out": 1e-12, "grad": 1e-10}}
SHAPES = [(6, 5), (3, 4, 5, 3)]  # after Dense (N, D), after Conv2D (N, H, W, C)
DTYPES = [np.float32, np.float64]


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-wise relative error ``max|a - b| / max|b|``."""
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def twin_layers(keras: Any, shape: tuple, dtype: type) -> tuple[BatchNormalization, Any]:
    """A tinycnn layer with γ, β and moving statistics drawn, and its Keras twin holding them."""
    rng = np.random.default_rng(len(shape))
    C = shape[-1]
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(shape[1:])
    layer.astype(dtype)
    draw = [rng.normal(1, 0.3, C), rng.normal(0, 0.3, C), rng.normal(0, 1, C), rng.uniform(1, 2, C)]
    layer.set_weights([w.astype(dtype) for w in draw])
    keras_layer = keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-3, dtype=np.dtype(dtype).name
    )
    keras_layer.build(shape)
    keras_layer.set_weights(layer.get_weights())
    return layer, keras_layer


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=["dense", "conv"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_forward_and_gradients_match_keras(tf, keras, shape, dtype, training) -> None:
    layer, keras_layer = twin_layers(keras, shape, dtype)
    rng = np.random.default_rng(7)
    x = rng.normal(2.0, 3.0, size=shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    out = layer.forward(x, training=training)
    dx = layer.backward(dout)
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        out_k = keras_layer(x_t, training=training)
        scalar = tf.reduce_sum(out_k * tf.constant(dout))
    dgamma_k, dbeta_k, dx_k = tape.gradient(scalar, [keras_layer.gamma, keras_layer.beta, x_t])
    tol = TOL[dtype]
    assert out.dtype == dtype
    assert np.max(np.abs(out - out_k.numpy())) <= tol["out"]
    for name, ours, theirs in [
        ("dx", dx, dx_k),
        ("dgamma", layer.grads["gamma"], dgamma_k),
        ("dbeta", layer.grads["beta"], dbeta_k),
    ]:
        assert rel_error(ours, theirs.numpy()) <= tol["grad"], name


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=["dense", "conv"])
def test_moving_statistics_after_20_training_steps_match_keras(tf, keras, shape, dtype) -> None:
    layer, keras_layer = twin_layers(keras, shape, dtype)
    rng = np.random.default_rng(3)
    for step in range(20):
        x = rng.normal(step / 5, 1 + step / 10, size=shape).astype(dtype)
        layer.forward(x, training=True)
        keras_layer(tf.constant(x), training=True)
    ours, theirs = layer.get_weights(), keras_layer.get_weights()
    names = ["gamma", "beta", "moving_mean", "moving_variance"]
    for name, a, b in zip(names, ours, theirs, strict=True):
        assert rel_error(a, b) <= TOL[dtype]["out"], name
    assert np.abs(ours[2]).min() > 0.1  # the statistics really moved


def bn_model(seed: int) -> Sequential:
    layers = [Conv2D(3, 3), BatchNormalization(), Flatten(), Dense(4), BatchNormalization()]
    return Sequential(layers, input_shape=(6, 5, 2), seed=seed)


def test_weights_and_moving_statistics_copied_both_ways(keras) -> None:
    model = bn_model(0)
    x = np.random.default_rng(0).normal(1, 2, size=(8, 6, 5, 2)).astype(np.float32)
    for _ in range(3):
        model.forward(x, training=True)  # moving statistics away from 0 and 1
    keras_model = to_keras(model)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(model.forward(x), keras_model.predict(x, verbose=0), atol=1e-5)
    back = from_keras(keras_model)
    assert [type(layer).__name__ for layer in back.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    for ours, theirs in zip(back.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    keras_model.layers[1].momentum = 0.5  # a Keras-side hyperparameter travels too
    assert from_keras(keras_model).layers[1].momentum == 0.5


def test_from_keras_refuses_batchnorm_options_tinycnn_lacks(keras) -> None:
    keras_model = keras.Sequential(
        [keras.Input((4,)), keras.layers.BatchNormalization(center=False)]
    )
    with pytest.raises(ValueError, match="center=False is not supported"):
        from_keras(keras_model)


SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.8}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.8,
                          "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 30], "values": [0.1, 0.01, 0.001]}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 40, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 1e-4, "decay_steps": 35, "warmup_target": 2e-3,
                     "warmup_steps": 8}),
]  # fmt: skip
OURS = {
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "CosineDecay": CosineDecay,
}


@pytest.mark.parametrize(("name", "config"), SCHEDULES)
def test_schedule_values_match_keras(keras, name, config) -> None:
    ours = OURS[name](**config)
    theirs = getattr(keras.optimizers.schedules, name)(**config)
    steps = range(60)
    expected = np.array([float(theirs(step)) for step in steps])
    # Keras computes in float32: near the end of a cosine, 1 + cos(π u) cancels, so its values
    # are off by float32 rounding of the top rate there, not of the (tiny) value.
    np.testing.assert_allclose(
        [ours(step) for step in steps], expected, rtol=1e-6, atol=1e-7 * expected.max()
    )


def test_reduce_lr_on_plateau_matches_keras(keras) -> None:
    """The same losses through both callbacks give the same rate after every epoch."""
    losses = [1.0, 0.9, 0.9, 0.95, 0.9, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]
    options = {"monitor": "val_loss", "factor": 0.5, "patience": 2, "cooldown": 2, "min_lr": 0.1}
    ours = ReduceLROnPlateau(**options)
    theirs = keras.callbacks.ReduceLROnPlateau(**options)
    keras_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    keras_model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    theirs.set_model(keras_model)

    class Model:
        optimizer = SGD(1.0)

    ours.set_model(Model())
    ours.on_train_begin()
    theirs.on_train_begin()
    for epoch, loss in enumerate(losses):
        ours.on_epoch_end(epoch, {"val_loss": loss})
        theirs.on_epoch_end(epoch, {"val_loss": loss})
        keras_lr = float(np.asarray(keras_model.optimizer.learning_rate))
        assert Model.optimizer.learning_rate == pytest.approx(keras_lr, rel=1e-6), epoch
    assert Model.optimizer.learning_rate == pytest.approx(0.125)
