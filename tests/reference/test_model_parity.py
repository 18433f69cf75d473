"""The seed CNN and the dense baseline, whole, against hand-written Keras twins.

The Keras twins are written out layer by layer here (not made by ``tinycnn.interop``), so
these
tests also check that ``tinycnn.zoo`` builds the architectures of the Keras MNIST examples. The
weights move with ``keras_model.set_weights(model.get_weights())``: one list, same order, same
shapes (NHWC activations, HWIO kernels, Flatten in (H, W, C) order).

Compared, in float32 and float64, on one batch of 16 random images and labels:

- probabilities ``model.forward(x)`` and logits ``model.forward(x, logits=True)``: max abs
  error <= 1e-5 (float32) / 1e-12 (float64);
- the loss: tinycnn's fused ``SoftmaxCrossEntropy`` on the logits against
  ``SparseCategoricalCrossentropy(from_logits=True)`` on Keras's logits: relative error
  <= 1e-6 / 1e-12;
- gradients of that loss w.r.t. every parameter and the input (``tf.GradientTape``):
  norm-wise relative error ``max|a - b| / max|b|`` <= 1e-4 / 1e-10;
- one Adam step: the updated weights, ``rtol=1e-4, atol=1e-5`` (float32) / 1e-10 (float64).
  In float64 Keras rounds ``lr, β1, β2`` to float32 inside its step size; the
  ``keras_like_adam`` fixture (conftest) reproduces that one rounding so the float64
  comparison can stay tight (see ``KerasFloat64Adam``).

Dropout is the identity here (``training=False`` in both), so no random masks are involved.
A model with one sign-flipped layer backward must fail the gradient comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinycnn import runtime
from tinycnn.layers import Dense
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.zoo import dense_baseline, seed_cnn

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]
TOL = {
    np.float32: {"out": 1e-5, "loss": 1e-6, "grad": 1e-4, "adam_rtol": 1e-4, "adam_atol": 1e-5},
    np.float64: {
        "out": 1e-12,
        "loss": 1e-12,
        "grad": 1e-10,
        "adam_rtol": 1e-10,
        "adam_atol": 1e-10,
    },
}
BATCH = 16


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-wise relative error ``max|a - b| / max|b|``."""
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def keras_seed_cnn(keras: Any, dtype: str, logits: bool) -> Any:
    """The seed CNN, as in the Keras MNIST convnet example."""
    kl = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), dtype=dtype),
            kl.Conv2D(32, 3, activation="relu", dtype=dtype),
            kl.MaxPooling2D(2, dtype=dtype),
            kl.Conv2D(64, 3, activation="relu", dtype=dtype),
            kl.MaxPooling2D(2, dtype=dtype),
            kl.Flatten(dtype=dtype),
            kl.Dense(128, activation="relu", dtype=dtype),
            kl.Dropout(0.5, dtype=dtype),
            kl.Dense(10, activation=None if logits else "softmax", dtype=dtype),
        ]
    )


def keras_dense_baseline(keras: Any, dtype: str, logits: bool) -> Any:
    """The dense baseline, as in the Keras MNIST multilayer-perceptron example."""
    kl = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), dtype=dtype),
            kl.Flatten(dtype=dtype),
            kl.Dense(512, activation="relu", dtype=dtype),
            kl.Dropout(0.2, dtype=dtype),
            kl.Dense(512, activation="relu", dtype=dtype),
            kl.Dropout(0.2, dtype=dtype),
            kl.Dense(10, activation=None if logits else "softmax", dtype=dtype),
        ]
    )


MODELS: dict[str, tuple[Callable, Callable]] = {
    "seed_cnn": (seed_cnn, keras_seed_cnn),
    "dense_baseline": (dense_baseline, keras_dense_baseline),
}


class Twins:
    """A tinycnn model and its two Keras twins (probabilities, logits) with the same weights."""

    def __init__(self, keras: Any, name: str, dtype: type) -> None:
        make_ours, make_theirs = MODELS[name]
        self.dtype = dtype
        self.model: Sequential = make_ours(seed=0).astype(dtype)
        self.keras_probs = make_theirs(keras, np.dtype(dtype).name, logits=False)
        self.keras_logits = make_theirs(keras, np.dtype(dtype).name, logits=True)
        for keras_model in (self.keras_probs, self.keras_logits):
            keras_model.set_weights(self.model.get_weights())
        rng = np.random.default_rng(1)
        self.x = rng.uniform(0, 1, size=(BATCH, 28, 28, 1)).astype(dtype)
        self.y = rng.integers(0, 10, size=BATCH)


@pytest.fixture(scope="module")
def twins(keras: Any) -> Callable[[str, type], Twins]:
    """Build each (model, dtype) pair once per module; Keras model building takes ~0.1-0.5 s."""
    cache: dict[tuple[str, type], Twins] = {}

    def get(name: str, dtype: type) -> Twins:
        if (name, dtype) not in cache:
            cache[(name, dtype)] = Twins(keras, name, dtype)
        return cache[(name, dtype)]

    return get


def tinycnn_loss_and_grads(model: Sequential, x: np.ndarray, y: np.ndarray) -> tuple:
    """Loss on the logits, then ``(loss, [dparam in get_weights order], dx)``."""
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(model.forward(x, training=False, logits=True), y)
    dx = model.backward(loss_fn.backward())
    return float(loss), [g.copy() for _, _, g in model.params_and_grads()], dx


def gradient_errors(twins: Twins, keras_loss_and_grads: Callable) -> dict[str, float]:
    """Relative errors of the loss and of every gradient, by parameter name (and ``"x"``)."""
    model = twins.model
    loss_t, grads_t, dx_t = tinycnn_loss_and_grads(model, twins.x, twins.y)
    loss_k, grads_k, dx_k = keras_loss_and_grads(twins.keras_logits, twins.x, twins.y)
    names = [name for name, _, _ in model.params_and_grads()]
    errors = {"loss": abs(loss_t - loss_k) / abs(loss_k), "x": rel_error(dx_t, dx_k)}
    for name, g_t, g_k in zip(names, grads_t, grads_k, strict=True):
        errors[name] = rel_error(g_t, g_k)
    return errors


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_forward_matches_keras(twins: Callable, name: str, dtype: type) -> None:
    t = twins(name, dtype)
    probs = t.model.forward(t.x)
    logits = t.model.forward(t.x, logits=True)
    assert probs.dtype == logits.dtype == dtype
    probs_err = np.max(np.abs(probs - t.keras_probs(t.x, training=False).numpy()))
    logits_err = np.max(np.abs(logits - t.keras_logits(t.x, training=False).numpy()))
    tol = TOL[dtype]["out"]
    assert probs_err <= tol and logits_err <= tol, f"probs {probs_err:.2e}, logits {logits_err:.2e}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_loss_and_every_gradient_match_tensorflow(
    twins: Callable, keras_loss_and_grads: Callable, name: str, dtype: type
) -> None:
    errors = gradient_errors(twins(name, dtype), keras_loss_and_grads)
    assert errors["loss"] <= TOL[dtype]["loss"], f"loss differs: {errors['loss']:.2e}"
    bad = {k: v for k, v in errors.items() if k != "loss" and v > TOL[dtype]["grad"]}
    assert not bad, f"gradients differing from TensorFlow: {bad} (all: {errors})"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_one_adam_step_matches_keras(
    keras: Any, keras_loss_and_grads: Callable, keras_like_adam: Callable, name: str, dtype: type
) -> None:
    """Each library computes its own gradients and takes one Adam step (lr 1e-3)."""
    t = Twins(keras, name, dtype)  # fresh: the step changes the weights
    _, grads_k, _ = keras_loss_and_grads(t.keras_logits, t.x, t.y)
    keras_opt = keras.optimizers.Adam(learning_rate=1e-3)
    keras_opt.apply_gradients(zip(grads_k, t.keras_logits.trainable_variables, strict=True))

    tinycnn_loss_and_grads(t.model, t.x, t.y)
    params, grads = zip(*[(p, g) for _, p, g in t.model.params_and_grads()], strict=True)
    keras_like_adam(dtype).update(list(params), list(grads))

    before = t.keras_probs.get_weights()
    names = [name for name, _, _ in t.model.params_and_grads()]
    for weight_name, ours, theirs, old in zip(
        names, t.model.get_weights(), t.keras_logits.get_weights(), before, strict=True
    ):
        assert not np.array_equal(theirs, old), f"Keras did not update {weight_name}"
        np.testing.assert_allclose(
            ours,
            theirs,
            rtol=TOL[dtype]["adam_rtol"],
            atol=TOL[dtype]["adam_atol"],
            err_msg=f"{weight_name} after one Adam step",
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_jit_compile_matches_keras_forward_and_gradients(
    keras: Any, keras_loss_and_grads: Callable, dtype: type
) -> None:
    """The fast path (direct and Winograd steps on Numba) against TensorFlow, same tolerances;
    its first fused step computes no input gradient, so only the parameters' are compared."""
    t = Twins(keras, "seed_cnn", dtype)  # fresh: compile changes how the model runs
    t.model.compile("adam", jit_compile=True)
    with runtime.use_backend("numba"):
        kinds = [type(step).__name__ for step in t.model.steps()]
        assert kinds[:2] == ["DirectConvReluPool", "WinogradConvReluPool"]
        logits = t.model.forward(t.x, logits=True)
        logits_err = np.max(np.abs(logits - t.keras_logits(t.x, training=False).numpy()))
        assert logits_err <= TOL[dtype]["out"], f"logits {logits_err:.2e}"
        loss_t, grads_t, dx_t = tinycnn_loss_and_grads(t.model, t.x, t.y)
    assert dx_t is None
    loss_k, grads_k, _ = keras_loss_and_grads(t.keras_logits, t.x, t.y)
    assert abs(loss_t - loss_k) / abs(loss_k) <= TOL[dtype]["loss"]
    names = [name for name, _, _ in t.model.params_and_grads()]
    errors = {n: rel_error(a, b) for n, a, b in zip(names, grads_t, grads_k, strict=True)}
    bad = {k: v for k, v in errors.items() if v > TOL[dtype]["grad"]}
    assert not bad, f"gradients differing from TensorFlow: {bad} (all: {errors})"


# -- the comparison can fail ---------------------------------------------------------------------
class SignFlippedDense(Dense):
    """A mutant Dense: one sign wrong in backward (the input gradient is negated)."""

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return -super().backward(dout)


def test_model_parity_catches_a_sign_flipped_backward(
    keras: Any, keras_loss_and_grads: Callable
) -> None:
    t = Twins(keras, "seed_cnn", np.float32)
    healthy = gradient_errors(t, keras_loss_and_grads)
    assert max(healthy.values()) <= TOL[np.float32]["grad"], healthy
    hidden = next(layer for layer in t.model.layers if layer.name == "dense")
    hidden.__class__ = SignFlippedDense  # the Dense(128) only; dense_1 (the output) stays right
    errors = gradient_errors(t, keras_loss_and_grads)
    assert errors["loss"] <= TOL[np.float32]["loss"], "a backward bug must not change the loss"
    assert errors["dense/w"] <= TOL[np.float32]["grad"], "gradients above the mutant are right"
    for below in ("conv2d/w", "conv2d_1/b", "x"):
        assert errors[below] > 1.0, f"mutant not caught in {below}: {errors}"
