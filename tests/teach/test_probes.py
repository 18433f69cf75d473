"""tinycnn.teach.probes: probabilities, feature maps, shifting images, shift accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.data import load_mnist, scale_images
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.losses import softmax
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.teach.probes import (
    class_probabilities,
    feature_maps,
    shift_accuracy,
    shift_images,
)
from tinycnn.training.loop import evaluate, predict_classes
from tinycnn.training.metrics import accuracy
from tinycnn.zoo import seed_cnn


@pytest.fixture(scope="module")
def trained():
    """A tiny CNN trained for 2 epochs on 400 subset images, and 200 test images."""
    (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
    model = Sequential(
        [Conv2D(4, 3, activation="relu"), MaxPool2D(), Flatten(), Dense(10, activation="softmax")],
        input_shape=(28, 28, 1),
        seed=0,
    )
    model.compile(Adam(3e-3))
    model.fit(scale_images(x_train[:400]), y_train[:400], epochs=2, seed=0, verbose=0)
    return model, scale_images(x_test[:200]), y_test[:200].astype(np.int64)


class TopLeftDetector:
    """A stand-in model: class 1 when pixel (0, 0) is lit, else class 0."""

    def forward(self, x, training=False, logits=False):
        lit = x[:, 0, 0, 0] > 0
        return np.stack([~lit, lit], axis=1).astype(np.float64) * 10.0


# -- shift_images ---------------------------------------------------------------------------
def roll_oracle(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """np.roll, then zero what wrapped around."""
    out = np.roll(x, (dy, dx), axis=(1, 2))
    H, W = x.shape[1:3]
    if dy > 0:
        out[:, :dy] = 0
    elif dy < 0:
        out[:, H + dy :] = 0
    if dx > 0:
        out[:, :, :dx] = 0
    elif dx < 0:
        out[:, :, W + dx :] = 0
    return out


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8), st.integers(1, 2)),
    dy=st.integers(-9, 9),
    dx=st.integers(-9, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_shift_images_matches_roll_with_zero_fill(shape, dy, dx, seed):
    x = np.random.default_rng(seed).integers(1, 256, size=shape).astype(np.uint8)
    H, W = shape[1:3]
    expected = np.zeros_like(x) if abs(dy) >= H or abs(dx) >= W else roll_oracle(x, dy, dx)
    shifted = shift_images(x, dy, dx)
    assert shifted.dtype == x.dtype
    np.testing.assert_array_equal(shifted, expected)


def test_shift_images_moves_down_and_right():
    x = np.zeros((1, 5, 5, 1))
    x[0, 1, 2, 0] = 7.0
    shifted = shift_images(x, 2, 1)
    assert np.argwhere(shifted[0, :, :, 0]).tolist() == [[3, 3]]
    np.testing.assert_array_equal(shift_images(x, 0, 0), x)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\), got shape \(5, 5\)"):
        shift_images(x[0, :, :, 0], 1, 1)


# -- shift_accuracy -------------------------------------------------------------------------
def test_shift_accuracy_at_zero_is_the_plain_accuracy(trained):
    model, x, y = trained
    result = shift_accuracy(model, x, y, shifts=range(5))
    assert result.shape == (5,)
    assert result[0] == accuracy(y, predict_classes(model, x))
    assert result[0] == pytest.approx(evaluate(model, x, y, return_dict=True)["accuracy"])
    assert np.all((0 <= result) & (result <= 1))
    moved = shift_images(x, 0, 3)
    assert result[3] == accuracy(y, predict_classes(model, moved))


def test_shift_accuracy_moves_along_the_direction():
    x = np.zeros((4, 6, 6, 1))
    x[:2, 0, 0, 0] = 1.0  # two images with the top-left pixel lit: class 1
    y = np.array([1, 1, 0, 0])
    model = TopLeftDetector()
    np.testing.assert_array_equal(shift_accuracy(model, x, y, [0, 1, 2]), [1.0, 0.5, 0.5])
    np.testing.assert_array_equal(shift_accuracy(model, x, y, [0, 1], direction=(1, 0)), [1, 0.5])
    x_right = shift_images(x, 0, 1)  # lit at (0, 1): moving left by one brings it back
    np.testing.assert_array_equal(
        shift_accuracy(model, x_right, y, [0, 1], direction=(0, -1)), [0.5, 1.0]
    )
    with pytest.raises(ValueError, match=r"labels of shape \(4,\), got shape \(3,\)"):
        shift_accuracy(model, x, y[:3])


# -- probabilities and feature maps ---------------------------------------------------------
def test_class_probabilities_in_chunks_equal_one_softmax(trained):
    model, x, _ = trained
    probs = class_probabilities(model, x[:70], batch_size=32)
    np.testing.assert_allclose(probs, softmax(model.forward(x[:70], logits=True)), rtol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs, model.forward(x[:70]), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        class_probabilities(model, x, batch_size=0)


def test_feature_maps_of_the_seed_cnn():
    model = seed_cnn(seed=0)
    image = np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)
    maps = feature_maps(model, image)
    assert [(name, fmap.shape) for name, fmap in maps] == [
        ("input", (28, 28, 1)),
        ("conv2d", (26, 26, 32)),
        ("max_pooling2d", (13, 13, 32)),
        ("conv2d_1", (11, 11, 64)),
        ("max_pooling2d_1", (5, 5, 64)),
    ]
    out = image[None]
    for layer, (_, fmap) in zip(model.layers[:4], maps[1:], strict=True):
        out = layer.forward(out)
        np.testing.assert_array_equal(fmap, out[0])
    assert maps[1][1].min() >= 0  # the conv output includes its ReLU
    with pytest.raises(ValueError, match=r"one image of shape \(H, W, C\)"):
        feature_maps(model, image[None])
