"""TensorFlow for the parity tests: import it once, or skip (laptop) or fail (CI) without it.

Every test in ``tests/reference`` gets the ``tf`` marker, so ``pytest -m "not tf"`` leaves the
whole folder out and ``pytest -m tf`` runs only it.

Without TensorFlow the tests skip with the reason below. When ``CI`` is true, or
``TINYCNN_REQUIRE_TF=1`` is set, a missing TensorFlow is an error instead: CI installs the
``reference`` extra, and parity tests that silently skipped there would prove nothing.

TensorFlow runs with its oneDNN kernels switched off (``TF_ENABLE_ONEDNN_OPTS=0``, set before
TensorFlow is imported, unless the variable is already set). With oneDNN on, tensorflow-cpu 2.21
computes some float32 convolutions wrongly: ``tf.nn.conv2d`` of a (2, 2, 1, 1) input with a
(1, 2, 1, 1) kernel, strides (1, 2) and "SAME" padding returns uninitialised memory
(``-1.46e29``) for the second row, where TensorFlow's own Eigen kernels and float64 give the right
answer (found by ``test_conv2d_matches_keras_on_drawn_shapes``; pinned by
``test_conv2d_where_onednn_is_wrong``). A reference must be right first, fast second.

Fixtures give TensorFlow and Keras (``tf``, ``keras``), a way to build Keras layers in float64
(``keras_float64``), and the Keras side of a loss-and-gradients computation
(``keras_loss_and_grads``) and tinycnn's Adam with Keras's float64 step size
(``keras_like_adam``), which the model and training parity files share.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tinycnn.optim import Adam

HERE = Path(__file__).resolve().parent
MISSING_TF = (
    "TensorFlow is not installed: the parity tests need the reference extra "
    '(pip install -e ".[reference]")'
)


def tensorflow_required() -> bool:
    """True in CI or with ``TINYCNN_REQUIRE_TF=1``: a missing TensorFlow then fails the run."""
    truthy = {"1", "true", "yes"}
    return (
        os.environ.get("CI", "").lower() in truthy
        or os.environ.get("TINYCNN_REQUIRE_TF", "").lower() in truthy
    )


# Before any import of TensorFlow in this session (see the module docstring).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter in test logs


def import_tensorflow() -> ModuleType:
    """Import TensorFlow; skip the calling test, or fail it when TF is required."""
    try:
        return importlib.import_module("tensorflow")
    except ImportError as exc:
        if tensorflow_required():
            pytest.fail(f"{MISSING_TF} ({exc}); CI=true or TINYCNN_REQUIRE_TF=1 forbids skipping")
        pytest.skip(MISSING_TF)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from this folder with ``tf``."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.tf)


@pytest.fixture(scope="session")
def tf() -> ModuleType:
    """The ``tensorflow`` module (skips or fails the test when it is missing)."""
    return import_tensorflow()


@pytest.fixture(scope="session")
def keras(tf: ModuleType) -> ModuleType:
    """The ``keras`` (3.x) module that TensorFlow uses."""
    return importlib.import_module("keras")


@pytest.fixture(scope="session")
def keras_float64(keras: ModuleType) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """A context manager: Keras layers built inside it default to float64; restored after."""

    @contextlib.contextmanager
    def float64() -> Iterator[None]:
        previous = keras.backend.floatx()
        keras.backend.set_floatx("float64")
        try:
            yield
        finally:
            keras.backend.set_floatx(previous)

    return float64


@pytest.fixture(scope="session")
def keras_loss_and_grads(tf: ModuleType, keras: ModuleType) -> Callable:
    """``f(keras_logits_model, x, y) -> (loss, [dparam...], dx)`` with ``tf.GradientTape``.

    The Keras model must end in logits (``to_keras(model, logits=True)``); the loss is
    ``SparseCategoricalCrossentropy(from_logits=True)``, the batch mean, which is what tinycnn's
    fused ``SoftmaxCrossEntropy`` computes on the logits. Gradients come back as NumPy arrays in
    ``get_weights`` order.
    """

    def loss_and_grads(
        keras_model: object, x: np.ndarray, y: np.ndarray
    ) -> tuple[float, list[np.ndarray], np.ndarray]:
        x_t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            logits = keras_model(x_t, training=False)
            # A Keras loss computes in floatx() (float32) unless told otherwise.
            loss_fn = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, dtype=logits.dtype.name
            )
            loss = loss_fn(tf.convert_to_tensor(y), logits)
        weights = keras_model.weights
        *dparams, dx = tape.gradient(loss, [*weights, x_t])
        return float(loss.numpy()), [g.numpy() for g in dparams], dx.numpy()

    return loss_and_grads


class KerasFloat64Adam(Adam):
    """tinycnn's Adam with the step size Keras actually uses for float64 variables.

    Keras computes ``lr_t = lr * sqrt(1 - β2**t) / (1 - β1**t)`` after ``ops.cast``-ing the Python
    floats ``lr``, ``β1``, ``β2`` to float64 through a float32 tensor, so they arrive rounded to
    float32 (``0.9 -> 0.89999998``): a relative error of ~6e-6 in Keras's float64 step, far above
    float64 round-off. This shim feeds tinycnn's own update that same ``lr_t`` (by adjusting
    ``learning_rate`` before each step); everything else is tinycnn's code.
    """

    def __init__(self, learning_rate: float = 1e-3) -> None:
        super().__init__(learning_rate)
        self.base_learning_rate = learning_rate

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        t = self.iterations + 1
        f32 = [float(np.float32(v)) for v in (self.base_learning_rate, self.beta_1, self.beta_2)]
        keras_lr_t = f32[0] * np.sqrt(1 - f32[2] ** t) / (1 - f32[1] ** t)
        exact_factor = np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        self.learning_rate = keras_lr_t / exact_factor
        super().update(params, grads)


@pytest.fixture(scope="session")
def keras_like_adam() -> Callable[..., Adam]:
    """``make(dtype, learning_rate=1e-3)``: tinycnn's Adam, with Keras's float64 step size."""

    def make(dtype: type, learning_rate: float = 1e-3) -> Adam:
        return KerasFloat64Adam(learning_rate) if dtype is np.float64 else Adam(learning_rate)

    return make
