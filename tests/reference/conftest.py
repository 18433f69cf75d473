"""TensorFlow for the parity tests: import it once, or skip (laptop) or fail (CI) without it.

Every test in ``tests/reference`` gets the ``tf`` marker, so ``pytest -m "not tf"`` leaves the
whole folder out and ``pytest -m tf`` runs only it.

Without TensorFlow the tests skip with the reason below. When ``CI`` is true, or
``TINYCNN_REQUIRE_TF=1`` is set, a missing TensorFlow is an error instead: CI installs the
``reference`` extra, and parity tests that silently skipped there would prove nothing.

Fixtures give TensorFlow and Keras (``tf``, ``keras``), a way to build Keras layers in float64
(``keras_float64``), and the Keras side of a loss-and-gradients computation
(``keras_loss_and_grads``), which the model and training parity files share.
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


def import_tensorflow() -> ModuleType:
    """Import TensorFlow quietly; skip the calling test, or fail it when TF is required."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter in test logs
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
