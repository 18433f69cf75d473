"""Sequential: names, parameter counts, weights in Keras order, logits mode, gradient checks."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import import_keras
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Softmax
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.testing.gradcheck import gradcheck
from tinycnn.zoo import dense_baseline, seed_cnn


def summary_text(model: Sequential) -> str:
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def total_params_from_summary(model: Sequential) -> int:
    match = re.search(r"^Total params: ([\d,]+) ", summary_text(model), re.MULTILINE)
    assert match is not None
    return int(match.group(1).replace(",", ""))


# -- the two reference models ---------------------------------------------------------------------
def test_seed_cnn_has_225034_parameters():
    model = seed_cnn(0)
    assert model.count_params() == 225_034
    assert total_params_from_summary(model) == 225_034
    assert "Total params: 225,034 (879.04 KB)" in summary_text(model)


def test_dense_baseline_has_669706_parameters():
    model = dense_baseline(0)
    assert model.count_params() == 669_706
    assert total_params_from_summary(model) == 669_706


def test_summary_lists_names_types_output_shapes_and_counts():
    text = summary_text(seed_cnn(0))
    rows = [
        ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320"),
        ("max_pooling2d (MaxPool2D)", "(None, 13, 13, 32)", "0"),
        ("conv2d_1 (Conv2D)", "(None, 11, 11, 64)", "18,496"),
        ("max_pooling2d_1 (MaxPool2D)", "(None, 5, 5, 64)", "0"),
        ("flatten (Flatten)", "(None, 1600)", "0"),
        ("dense (Dense)", "(None, 128)", "204,928"),
        ("dropout (Dropout)", "(None, 128)", "0"),
        ("dense_1 (Dense)", "(None, 10)", "1,290"),
    ]
    for name, shape, count in rows:
        assert re.search(rf"^{re.escape(name)} +{re.escape(shape)} +{count}$", text, re.MULTILINE)


def test_layer_names_are_unique_in_keras_style():
    model = Sequential([Dense(4, name="dense_1"), Dense(4), Dense(4), ReLU(), Softmax()])
    assert [layer.name for layer in model.layers] == [
        "dense_1",
        "dense",
        "dense_2",
        "re_lu",
        "softmax",
    ]
    with pytest.raises(ValueError, match="layer name 'dense' is already used"):
        model.add(Dense(2, name="dense"))


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = seed_cnn(1).get_weights(), seed_cnn(1).get_weights(), seed_cnn(2).get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a[0], c[0])


# -- weights --------------------------------------------------------------------------------------
def test_get_weights_is_keras_order_and_set_weights_round_trips():
    source, target = seed_cnn(3), seed_cnn(4)
    weights = source.get_weights()
    shapes = [w.shape for w in weights]
    assert shapes == [
        (3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,), (128, 10), (10,),
    ]  # fmt: skip
    target.set_weights(weights)
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(target.forward(x), source.forward(x))
    weights[0][...] = 0  # get_weights returns copies
    assert np.abs(source.get_weights()[0]).max() > 0


def test_set_weights_checks_count_and_shapes_and_changes_nothing_on_error():
    model = seed_cnn(5)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"expected 8 weight arrays .* got 7"):
        model.set_weights(before[:7])
    bad = [w.copy() for w in before]
    bad[4] = np.zeros((1601, 128))
    bad[0] = np.ones_like(bad[0])
    with pytest.raises(
        ValueError, match=r"'dense/w': expected shape \(1600, 128\), got \(1601, 128\)"
    ):
        model.set_weights(bad)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_params_and_grads_are_the_live_arrays_in_weight_order():
    model = seed_cnn(6)
    entries = model.params_and_grads()
    assert [name for name, _, _ in entries] == [
        "conv2d/w", "conv2d/b", "conv2d_1/w", "conv2d_1/b",
        "dense/w", "dense/b", "dense_1/w", "dense_1/b",
    ]  # fmt: skip
    assert entries[0][1] is model.layers[0].params["w"]
    assert all(p.shape == g.shape for _, p, g in entries)


# -- forward and backward -------------------------------------------------------------------------
def test_wrong_input_shape_names_expected_and_received():
    model = seed_cnn(0)
    with pytest.raises(
        ValueError, match=r"expected input of shape \(N, 28, 28, 1\), got \(2, 28, 28\)"
    ):
        model.forward(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\), got \(1, 32, 32, 1\)"):
        model.forward(np.zeros((1, 32, 32, 1)))


@pytest.mark.parametrize("final", ["layer", "activation"])
def test_logits_mode_skips_the_final_softmax_only_while_asked(final):
    if final == "layer":
        model = Sequential([Flatten(), Dense(5), Softmax()], input_shape=(3, 2), seed=0)
    else:
        model = Sequential([Flatten(), Dense(5, activation="softmax")], input_shape=(3, 2), seed=0)
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    logits = model.forward(x, logits=True)
    probabilities = model.forward(x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted / shifted.sum(axis=1, keepdims=True), probabilities, 1e-6)
    assert not np.allclose(logits.sum(axis=1), 1.0)
    if final == "activation":  # the activation is back in place after the logits pass
        assert isinstance(model.layers[-1].activation, Softmax)


@pytest.mark.parametrize("final", ["layer", "activation"])
def test_backward_after_logits_mode_is_the_loss_gradient(final):
    head = [Dense(4), Softmax()] if final == "layer" else [Dense(4, activation="softmax")]
    model = Sequential([Flatten(), Dense(3, activation="relu"), *head], input_shape=(2, 3), seed=1)
    x = np.random.default_rng(1).normal(size=(3, 2, 3))
    result = gradcheck(model, x, np.array([0, 3, 1]), loss=SoftmaxCrossEntropy(), eps=3e-5)
    assert result.max_rel_error <= 1e-7, str(result)
    x_check, *weights = result.tensors  # a dead (all-zero) pooling window makes ties: kinks
    assert x_check.n_checked > 0 and any(t.n_checked for t in weights)  # not a check of nothing


def test_logits_mode_leaves_models_without_softmax_alone():
    model = Sequential([Dense(3, activation="relu")], input_shape=(2,), seed=0)
    x = np.ones((1, 2))
    np.testing.assert_array_equal(model.forward(x, logits=True), model.forward(x))


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="call forward before backward"):
        seed_cnn(0).backward(np.zeros((1, 10)))


def test_builds_on_first_forward_and_when_adding_to_a_built_model():
    model = Sequential([Flatten(), Dense(3)], seed=0)
    assert not model.built
    assert model.forward(np.ones((2, 4, 5))).shape == (2, 3)
    assert model.input_shape == (4, 5)
    model.add(Dense(2))
    assert model.layers[-1].params["w"].shape == (3, 2)
    assert model.forward(np.ones((2, 4, 5))).shape == (2, 2)


def test_astype_float64_computes_in_float64():
    model = seed_cnn(0).astype(np.float64)
    out = model.forward(np.ones((1, 28, 28, 1), dtype=np.float32))
    assert out.dtype == np.float64


def test_config_is_json_and_rebuilds_the_same_model():
    model = seed_cnn(7)
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = Sequential.from_config(config)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert rebuilt.get_config() == model.get_config()
    for a, b in zip(rebuilt.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same initial weights


def test_compile_stores_optimizer_and_loss():
    model = seed_cnn(0)
    model.compile(optimizer=Adam(1e-4), loss="sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, Adam) and model.optimizer.learning_rate == 1e-4
    assert isinstance(model.loss, SoftmaxCrossEntropy)
    assert model.metrics == ("accuracy",)


# -- gradient check of a miniature seed model -----------------------------------------------------
@st.composite
def miniature_configs(draw):
    """The seed model's layer sequence with 1-3 channels and images just big enough."""
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    # "valid" loses K-1 rows per conv: conv-pool-conv-pool needs H >= 3*KH + 1 to leave 1 row.
    H = draw(st.integers(3 * KH + 1, 3 * KH + 3)) if padding == "valid" else draw(st.integers(4, 7))
    W = draw(st.integers(3 * KW + 1, 3 * KW + 3)) if padding == "valid" else draw(st.integers(4, 7))
    return {
        "N": draw(st.integers(1, 2)),
        "H": H,
        "W": W,
        "C": draw(st.integers(1, 2)),
        "kernel": (KH, KW),
        "padding": padding,
        "filters": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "units": draw(st.integers(2, 4)),
        "classes": draw(st.integers(2, 4)),
        "one_hot": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def miniature_seed_model(cfg) -> Sequential:
    F1, F2 = cfg["filters"]
    conv = {"kernel_size": cfg["kernel"], "padding": cfg["padding"], "activation": "relu"}
    layers = [
        Conv2D(F1, **conv),
        MaxPool2D(2),
        Conv2D(F2, **conv),
        MaxPool2D(2),
        Flatten(),
        Dense(cfg["units"], activation="relu"),
        Dropout(0.5, seed=cfg["seed"], fixed_mask=True),
        Dense(cfg["classes"], activation="softmax"),
    ]
    return Sequential(layers, input_shape=(cfg["H"], cfg["W"], cfg["C"]), seed=cfg["seed"])


@given(miniature_configs())
def test_gradcheck_of_a_miniature_seed_model_with_loss(cfg):
    model = miniature_seed_model(cfg)
    rng = np.random.default_rng(cfg["seed"])
    # Glorot weights with zero biases: give the biases values too, so their gradients are tested
    # away from the all-zero start.
    for _, param, _ in model.params_and_grads():
        if param.ndim == 1:
            param[...] = rng.normal(0, 0.1, size=param.shape)
    x = rng.normal(size=(cfg["N"], cfg["H"], cfg["W"], cfg["C"]))
    y = rng.integers(0, cfg["classes"], size=cfg["N"])
    if cfg["one_hot"]:
        y = np.eye(cfg["classes"])[y]
    # eps = 1e-3: through a deep stack of tiny layers (one filter, two units) the gradients are
    # small next to the loss, and rounding noise (~1e-16 * sizes / eps) dominates: drawn cases
    # read 2.1e-7 at eps=3e-5, 1.2e-7 at 3e-4 and 4.3e-8 at 1e-3. The five-point stencil keeps
    # truncation (O(eps**4), from the softmax only: the rest is linear between kinks) far below;
    # elements whose ReLU/max-pool decisions flip within 2*eps are kinks, left out.
    result = gradcheck(model, x, y, loss=SoftmaxCrossEntropy(), training=True, eps=1e-3)
    assert len(result.tensors) == 9  # x and the 8 weight tensors
    assert result.max_rel_error <= 1e-7, str(result)
    x_check, *weights = result.tensors  # a dead (all-zero) pooling window makes ties: kinks
    assert x_check.n_checked > 0 and any(t.n_checked for t in weights)  # not a check of nothing


# -- Keras parity ---------------------------------------------------------------------------------
@pytest.mark.tf
def test_keras_seed_cnn_weights_load_unchanged_and_outputs_agree():
    keras = import_keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    keras_model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dense(128, activation="relu"),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    assert keras_model.count_params() == 225_034
    weights = keras_model.get_weights()
    rng = np.random.default_rng(0)
    weights = [w + rng.normal(0, 0.05, size=w.shape).astype(np.float32) for w in weights]
    keras_model.set_weights(weights)  # non-zero biases, so their placement is tested too
    model = seed_cnn(0)
    model.set_weights(keras_model.get_weights())
    x = rng.random((16, 28, 28, 1), dtype=np.float32)
    expected = np.asarray(keras_model(x, training=False))
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("make", [seed_cnn, dense_baseline])
def test_predict_is_softmax_of_forward_bit_for_bit(make, backend):
    from tinycnn import runtime
    from tinycnn.layers.softmax import softmax

    rng = np.random.default_rng(4)
    x = rng.random((200, 28, 28, 1), dtype=np.float32)
    with runtime.use_backend(backend):
        model = make(seed=2)
        np.testing.assert_array_equal(model.predict(x), softmax(model.forward(x, logits=True)))
        np.testing.assert_array_equal(model.predict(x), model.forward(x))


def test_jit_compile_is_a_way_of_running_not_part_of_the_model(tmp_path):
    import tinycnn

    model = seed_cnn(seed=2)
    model.compile("adam", jit_compile=True)
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert lines[-1].startswith("Runs: jit_compile on the numba backend: conv2d + max_pooling2d")
    rng = np.random.default_rng(4)
    x, y = rng.random((3, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 3)
    model.loss.forward(model.forward(x, training=True, logits=True), y)
    assert model.backward(model.loss.backward()) is None  # the first fused step skips dx
    model.save(tmp_path / "m.npz")
    loaded = tinycnn.load_model(tmp_path / "m.npz")
    assert loaded.jit_compile is False
    loaded.summary(print_fn=lines.append)
    assert lines[-1].startswith(
        "Runs: eager on the numba backend: every layer runs its own forward and backward; threads:"
    )
    with pytest.raises(ValueError, match="jit_compile must be True or False, got 'yes'"):
        model.compile("adam", jit_compile="yes")
