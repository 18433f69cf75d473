"""``tinycnn.interop``: models and weights moved between tinycnn and Keras, both ways.

Also checks this folder's own promise: without TensorFlow the parity tests skip on a laptop but
fail under ``CI=true`` / ``TINYCNN_REQUIRE_TF=1`` (run in a subprocess with a fake, broken
``tensorflow`` package first on the path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinycnn.interop import from_keras, to_keras
from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Softmax
from tinycnn.layers.base import Layer
from tinycnn.model import Sequential
from tinycnn.zoo import dense_baseline, seed_cnn

REPO = Path(__file__).resolve().parents[2]


def x_batch(dtype: type = np.float32, n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, size=(n, 28, 28, 1)).astype(dtype)


def assert_same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b), f"{len(a)} weight arrays vs {len(b)}"
    for i, (wa, wb) in enumerate(zip(a, b, strict=True)):
        assert wa.dtype == wb.dtype, f"weight {i}: dtype {wa.dtype} vs {wb.dtype}"
        np.testing.assert_array_equal(wa, wb, err_msg=f"weight {i}")


@pytest.fixture(scope="module")
def cnn_pair(keras: Any) -> tuple[Sequential, Any]:
    model = seed_cnn(seed=3)
    return model, to_keras(model)


def test_to_keras_mirrors_the_seed_cnn(cnn_pair: tuple[Sequential, Any]) -> None:
    model, keras_model = cnn_pair
    kinds = [type(layer).__name__ for layer in keras_model.layers]
    assert kinds == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert [layer.name for layer in keras_model.layers] == [layer.name for layer in model.layers]
    assert keras_model.count_params() == model.count_params() == 225_034
    assert keras_model.input_shape == (None, 28, 28, 1)
    assert_same_weights(keras_model.get_weights(), model.get_weights())
    config = keras_model.layers[0].get_config()
    assert (config["activation"], config["padding"], config["strides"]) == ("relu", "valid", (1, 1))
    assert keras_model.layers[6].get_config()["rate"] == 0.5
    assert keras_model.layers[-1].get_config()["activation"] == "softmax"
    x = x_batch()
    err = np.max(np.abs(keras_model.predict(x, verbose=0) - model.forward(x)))
    assert err <= 1e-5, f"predictions differ by {err:.2e}"


def test_to_keras_logits_stops_before_the_final_softmax(
    keras: Any, cnn_pair: tuple[Sequential, Any]
) -> None:
    model, _ = cnn_pair
    keras_logits = to_keras(model, logits=True)
    assert keras_logits.layers[-1].get_config()["activation"] == "linear"
    x = x_batch()
    err = np.max(np.abs(keras_logits(x).numpy() - model.forward(x, logits=True)))
    assert err <= 1e-5, f"logits differ by {err:.2e}"
    with_layer = Sequential([Flatten(), Dense(4), Softmax()], input_shape=(3, 2, 1), seed=0)
    assert [type(kl).__name__ for kl in to_keras(with_layer, logits=True).layers] == [
        "Flatten",
        "Dense",
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_round_trip_keeps_config_weights_and_dtype(keras: Any, dtype: type) -> None:
    model = dense_baseline(seed=1).astype(dtype)
    keras_model = to_keras(model)
    assert {np.asarray(w).dtype for w in keras_model.get_weights()} == {np.dtype(dtype)}
    back = from_keras(keras_model)
    assert back.get_config()["layers"] == model.get_config()["layers"]
    assert_same_weights(back.get_weights(), model.get_weights())
    x = x_batch(dtype)
    np.testing.assert_array_equal(back.forward(x), model.forward(x))


def test_from_keras_builds_an_equal_model(keras: Any) -> None:
    kl = keras.layers
    keras_model = keras.Sequential(
        [
            keras.Input((9, 7, 2)),
            kl.Conv2D(4, (3, 2), strides=(2, 1), padding="same", name="c1"),
            kl.Activation("relu"),
            kl.MaxPool2D((2, 3), strides=(1, 2), padding="same"),
            kl.ReLU(),
            kl.Activation("linear"),
            kl.Flatten(),
            kl.Dropout(0.25, seed=5),
            kl.Dense(6, activation="softmax"),
        ]
    )
    model = from_keras(keras_model)
    assert [type(layer) for layer in model.layers] == [
        Conv2D, ReLU, MaxPool2D, ReLU, Flatten, Dropout, Dense,
    ]  # fmt: skip
    conv, _, pool, _, _, dropout, dense = model.layers
    assert conv.name == "c1" and conv.strides == (2, 1) and conv.padding == "same"
    assert conv.kernel_size == (3, 2) and conv.activation is None
    assert pool.pool_size == (2, 3) and pool.strides == (1, 2) and pool.padding == "same"
    assert dropout.rate == 0.25 and dropout.seed == 5
    assert dense.get_config()["activation"] == "softmax"
    assert_same_weights(model.get_weights(), keras_model.get_weights())
    x = np.random.default_rng(2).standard_normal((3, 9, 7, 2)).astype(np.float32)
    err = np.max(np.abs(model.forward(x) - keras_model(x).numpy()))
    assert err <= 1e-6, f"outputs differ by {err:.2e}"


def test_from_keras_names_every_unsupported_layer(keras: Any) -> None:
    kl = keras.layers
    keras_model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(2, 3),
            kl.LayerNormalization(name="ln"),
            kl.AveragePooling2D(2, name="avg"),
            kl.Flatten(),
            kl.Dense(3),
        ]
    )
    with pytest.raises(ValueError, match=r"unsupported layer.*'ln' \(LayerNormalization\).*'avg'"):
        from_keras(keras_model)


@pytest.mark.parametrize(
    ("make_layer", "message"),
    [
        (lambda kl: kl.Conv2D(2, 3, dilation_rate=2, name="dil"), r"'dil'.*dilation_rate"),
        (lambda kl: kl.Conv2D(2, 3, use_bias=False, name="nobias"), r"'nobias'.*use_bias"),
        (lambda kl: kl.Conv2D(2, 3, activation="tanh", name="th"), r"'th'.*activation 'tanh'"),
        (lambda kl: kl.ReLU(max_value=6.0, name="relu6"), r"'relu6'.*max_value"),
        (lambda kl: kl.Dense(3, kernel_regularizer="l2", name="l2"), r"'l2'.*kernel_regularizer"),
    ],
)
def test_from_keras_rejects_options_tinycnn_lacks(
    keras: Any, make_layer: Any, message: str
) -> None:
    keras_model = keras.Sequential([keras.Input((6, 6, 1)), make_layer(keras.layers)])
    with pytest.raises(ValueError, match=message):
        from_keras(keras_model)


def test_from_keras_rejects_a_functional_model(keras: Any) -> None:
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="expected a keras.Sequential model, got Functional"):
        from_keras(functional)


class Scale(Layer):
    """A layer Keras has no twin for."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return 2 * x


def test_to_keras_names_an_unsupported_layer(keras: Any) -> None:
    model = Sequential([Flatten(), Scale(name="doubler")], input_shape=(2, 2, 1))
    with pytest.raises(ValueError, match=r"unsupported layer 'doubler' \(Scale\)"):
        to_keras(model)
    with pytest.raises(ValueError, match="expected a built model"):
        to_keras(Sequential([Flatten()]))


# -- the folder's skip/fail policy ---------------------------------------------------------------
def run_without_tensorflow(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run one parity test in a subprocess where ``import tensorflow`` raises ImportError."""
    fake = tmp_path / "fake_site"
    for package in ("tensorflow", "keras"):
        (fake / package).mkdir(parents=True, exist_ok=True)
        (fake / package / "__init__.py").write_text('raise ImportError("simulated: not installed")')
    clean = {k: v for k, v in os.environ.items() if k not in {"CI", "TINYCNN_REQUIRE_TF"}}
    clean["PYTHONPATH"] = os.pathsep.join([str(fake), clean.get("PYTHONPATH", "")])
    test_id = f"{Path(__file__).name}::test_to_keras_mirrors_the_seed_cnn"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", test_id]
    return subprocess.run(
        command,
        cwd=Path(__file__).parent,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_tensorflow_skips_locally_and_fails_in_ci(tmp_path: Path) -> None:
    local = run_without_tensorflow(tmp_path)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "1 skipped" in local.stdout and "TensorFlow is not installed" in local.stdout
    for env in ({"CI": "true"}, {"TINYCNN_REQUIRE_TF": "1"}):
        ci = run_without_tensorflow(tmp_path, **env)
        assert ci.returncode == 1, f"{env}: a skip must fail here\n{ci.stdout}{ci.stderr}"
        assert "forbids skipping" in ci.stdout and "1 error" in ci.stdout, ci.stdout
