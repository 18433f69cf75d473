"""BatchNormalization: statistics, moving averages, gradients, weights, saving, counting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.layers import BatchNormalization, Dense, Flatten
from tinycnn.model import Sequential, load_model
from tinycnn.saving.io import save_model
from tinycnn.testing.gradcheck import gradcheck
from tinycnn.zoo import seed_cnn_bn

# (N, C) after Dense or (N, H, W, C) after Conv2D. N*H*W >= 3: with 2 values per channel the
# normalised outputs are ±sqrt(σ²/(σ²+ε)), nearly constant, so dx is tiny and all rounding noise.
shapes = st.one_of(
    st.tuples(st.integers(3, 5), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(3, 5), st.integers(1, 3)),
)


def random_layer(shape: tuple[int, ...], seed: int) -> BatchNormalization:
    """A float64 layer with γ, β and moving statistics drawn away from their defaults."""
    rng = np.random.default_rng(seed)
    C = shape[-1]
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(shape[1:])
    layer.astype(np.float64)
    layer.set_weights(
        [rng.normal(1, 0.5, C), rng.normal(0, 0.5, C), rng.normal(0, 1, C), rng.uniform(0.5, 2, C)]
    )
    return layer


@given(shapes, st.integers(0, 2**32 - 1), st.booleans())
def test_gradients_match_central_differences(shape, seed, training):
    x = np.random.default_rng(seed + 1).normal(1.0, 2.0, size=shape)
    result = gradcheck(random_layer(shape, seed), x, training=training, seed=seed)
    assert result.max_rel_error < 1e-6, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


@given(shapes, st.integers(0, 2**32 - 1))
def test_training_normalises_each_channel_and_updates_the_moving_statistics(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, size=shape)
    layer = BatchNormalization(momentum=0.9)
    layer.build(shape[1:])
    layer.astype(np.float64)
    out = layer.forward(x, training=True)
    axes = tuple(range(len(shape) - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased, as Keras
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 + 0.1 * var, rtol=1e-12)


def test_inference_uses_the_moving_statistics_and_changes_nothing():
    layer = random_layer((4, 3), seed=0)
    before = layer.get_weights()
    x = np.random.default_rng(1).normal(size=(4, 3))
    gamma, beta, mean, var = before
    out = layer.forward(x, training=False)
    np.testing.assert_allclose(out, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-12)
    for a, b in zip(layer.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_in_keras_order_and_counted_as_keras_does():
    layer = BatchNormalization()
    layer.build((5, 5, 7))
    assert layer.weight_names() == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.shape for w in layer.get_weights()] == [(7,)] * 4
    assert sorted(layer.params) == ["beta", "gamma"]
    assert layer.count_params() == 28 and layer.count_trainable_params() == 14
    with pytest.raises(ValueError, match=r"expected 4 weight arrays .*got 2"):
        layer.set_weights(layer.get_weights()[:2])
    with pytest.raises(ValueError, match=r"'moving_variance' expected shape \(7,\), got \(6,\)"):
        layer.set_weights([np.ones(7)] * 3 + [np.ones(6)])
    with pytest.raises(ValueError, match=r"expected input of shape \(N, ..., 7\), got \(2, 3\)"):
        layer.forward(np.ones((2, 3)))


def test_the_optimizer_sees_only_gamma_and_beta():
    model = Sequential([Flatten(), Dense(4), BatchNormalization()], input_shape=(2, 3), seed=0)
    assert [name for name, _, _ in model.params_and_grads()] == [
        "dense/w",
        "dense/b",
        "batch_normalization/gamma",
        "batch_normalization/beta",
    ]
    assert model.weight_names()[-2:] == [
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
    ]


def test_zoo_model_parameter_count_and_summary():
    model = seed_cnn_bn(0)
    assert model.count_params() == 225_930
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert "Total params: 225,930 (882.54 KB)" in lines
    assert "Trainable params: 225,482 (880.79 KB)" in lines
    assert "Non-trainable params: 448 (1.75 KB)" in lines


def test_moving_statistics_survive_save_and_load(tmp_path):
    model = seed_cnn_bn(0)
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    model.forward(x, training=True)  # moves the moving statistics away from 0 and 1
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[2].state["moving_mean"].any()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNormalization(momentum=1.0)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        BatchNormalization(epsilon=0.0)
