"""What the network looks at (tinycnn.teach.looks), on models whose answers are known.

A linear model ``z = W.T @ flatten(x) + b`` has ``∂z_k/∂x = W[:, k]``: its saliency map, its
fast-gradient-sign step and its best class picture follow from ``W`` alone. A small ReLU CNN
is checked against centred differences in float64, and the shipped model must be fooled.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn.data import load_mnist, scale_images
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.losses import softmax
from tinycnn.model import Sequential
from tinycnn.serve.default_model import load_default_model
from tinycnn.teach import looks


def linear_model(shape, K, seed):
    """Flatten -> Dense(K) without activation, float64, with drawn weights: z = W.T x + b."""
    model = Sequential([Flatten(), Dense(K)], input_shape=shape, seed=seed).astype(np.float64)
    rng = np.random.default_rng(seed)
    D = int(np.prod(shape))
    model.layers[1].set_weights([rng.normal(size=(D, K)), rng.normal(size=K)])
    return model, model.layers[1].params["w"]


def small_cnn(seed):
    model = Sequential(
        [
            Conv2D(3, 3, activation="relu"),
            MaxPool2D(),
            Flatten(),
            Dense(4, activation="softmax"),
        ],
        input_shape=(7, 6, 2),
        seed=seed,
    )
    return model.astype(np.float64)


# -- saliency -------------------------------------------------------------------------------
def test_saliency_of_a_linear_model_is_the_largest_weight_over_channels():
    model, w = linear_model((4, 5, 2), 3, seed=1)
    for k in range(3):
        expected = np.abs(w[:, k].reshape(4, 5, 2)).max(axis=-1)  # Flatten orders h, w, c
        x = np.random.default_rng(k).random((4, 5, 2))
        np.testing.assert_allclose(looks.saliency(model, x, k), expected, rtol=1e-12)


@given(seed=st.integers(0, 2**16), k=st.integers(0, 3))
@settings(max_examples=10)
def test_saliency_of_a_relu_cnn_matches_centred_differences(seed, k):
    model = small_cnn(seed)
    x = np.random.default_rng(seed + 1).random((7, 6, 2))
    h = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        z_up = model.forward(up[None], logits=True)[0, k]
        z_down = model.forward(down[None], logits=True)[0, k]
        numeric[index] = (z_up - z_down) / (2 * h)
    np.testing.assert_allclose(
        looks.saliency(model, x, k), np.abs(numeric).max(axis=-1), rtol=1e-5, atol=1e-8
    )


def test_saliency_refuses_a_bad_class_or_image():
    model, _ = linear_model((4, 5, 2), 3, seed=0)
    with pytest.raises(ValueError, match=r"class must be an integer in 0\.\.2, got 3"):
        looks.saliency(model, np.zeros((4, 5, 2)), 3)
    with pytest.raises(ValueError, match=r"expected one image of shape \(4, 5, 2\)"):
        looks.saliency(model, np.zeros((1, 4, 5, 2)), 0)


# -- occlusion ------------------------------------------------------------------------------
def test_occlusion_drops_are_the_probability_lost_under_each_patch():
    model, _ = linear_model((8, 7, 1), 3, seed=2)
    x = np.random.default_rng(3).random((8, 7, 1))
    result = looks.occlusion(model, x, 1, patch=3, stride=2, fill=0.5)
    p = softmax(model.forward(x[None], logits=True))[0, 1]
    assert result.probability == pytest.approx(p, rel=1e-12)
    assert result.drops.shape == (3, 3)  # (8 - 3) // 2 + 1, (7 - 3) // 2 + 1
    for i, j in np.ndindex(3, 3):
        covered = x.copy()
        covered[2 * i : 2 * i + 3, 2 * j : 2 * j + 3] = 0.5
        expected = p - softmax(model.forward(covered[None], logits=True))[0, 1]
        assert result.drops[i, j] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # pixel (2, 2) lies under the patches at (0, 0), (0, 1), (1, 0) and (1, 1)
    assert result.heat[2, 2] == pytest.approx(result.drops[:2, :2].mean())
    assert result.heat[7, 6] == 0.0  # the last row and column are never covered


# -- fooling: the fast gradient sign step and the iterative steps ---------------------------
def test_the_sign_step_raises_the_targets_margin_by_epsilon_times_the_l1_norm():
    # Two classes: log p_t = -log(1 + exp(z_o - z_t)) rises exactly when the margin z_t - z_o
    # does, and the gradient is p_o * (w_t - w_o), so the step is eps * sign(w_t - w_o).
    model, w = linear_model((4, 4, 1), 2, seed=4)
    x = np.full((4, 4, 1), 0.5)  # far enough from 0 and 1 that nothing is clipped
    t = int(np.argmin(model.forward(x[None], logits=True)[0]))  # the class it does not say
    o = 1 - t
    attack = looks.fool(model, x, target=t, epsilon=0.1, steps=1)
    z = model.forward(attack.images, logits=True)  # (2, 2): before, after
    margin = z[:, t] - z[:, o]
    assert margin[1] - margin[0] == pytest.approx(0.1 * np.abs(w[:, t] - w[:, o]).sum())
    np.testing.assert_allclose(attack.change.ravel(), 0.1 * np.sign(w[:, t] - w[:, o]), rtol=1e-12)


def test_the_sign_step_with_many_classes_follows_the_log_probability_gradient():
    model, w = linear_model((3, 5, 2), 4, seed=5)
    x = np.full((3, 5, 2), 0.5)
    z0 = model.forward(x[None], logits=True)[0]
    p0 = softmax(z0)
    target = int(np.argmin(p0))
    gradient = w[:, target] - w @ p0  # ∂ log p_t / ∂x = w_t - Σ_k p_k w_k
    attack = looks.fool(model, x, target, epsilon=0.05, steps=1)
    step = 0.05 * np.sign(gradient)
    np.testing.assert_allclose(attack.change.ravel(), step, rtol=1e-12)
    z1 = model.forward(attack.images[1:], logits=True)[0]
    np.testing.assert_allclose(z1 - z0, w.T @ step, rtol=1e-9)  # the scores move by W.T step
    np.testing.assert_allclose(attack.probabilities[1], softmax(z1), rtol=1e-12)
    assert attack.probabilities[1][target] > p0[target]


@given(seed=st.integers(0, 2**16), epsilon=st.floats(0.01, 0.6), steps=st.integers(1, 8))
@settings(max_examples=15)
def test_the_attack_stays_in_the_image_and_within_epsilon(seed, epsilon, steps):
    model = small_cnn(seed)
    x = np.random.default_rng(seed).random((7, 6, 2))
    attack = looks.fool(model, x, target=seed % 4, epsilon=epsilon, steps=steps)
    assert len(attack.images) == len(attack.probabilities) <= steps + 1
    assert attack.images.min() >= 0.0 and attack.images.max() <= 1.0
    assert np.abs(attack.images - x).max() <= epsilon + 1e-12
    winners = attack.probabilities.argmax(axis=1)
    assert not (winners[:-1] == attack.target).any()  # it stops at the first win
    if len(attack.images) < steps + 1:
        assert attack.prediction == attack.target


def test_an_image_already_of_the_target_class_is_left_alone():
    model, _ = linear_model((4, 4, 1), 3, seed=6)
    x = np.random.default_rng(6).random((4, 4, 1))
    k = int(np.argmax(model.forward(x[None], logits=True)))
    attack = looks.fool(model, x, k, epsilon=0.2, steps=5)
    assert len(attack.images) == 1 and not attack.change.any() and attack.prediction == k


@pytest.mark.parametrize(
    ("target", "epsilon", "steps", "message"),
    [
        (10, 0.1, 3, r"target must be an integer in 0\.\.9, got 10"),
        (3, 0.0, 3, r"epsilon must be in \(0, 1\], got 0\.0"),
        (3, 1.5, 3, r"epsilon must be in \(0, 1\], got 1\.5"),
        (3, 0.1, 0, r"steps must be in 1\.\.100, got 0"),
        (3, 0.1, 101, r"steps must be in 1\.\.100, got 101"),
    ],
)
def test_fool_refuses_out_of_range_arguments(target, epsilon, steps, message):
    model = load_default_model()
    with pytest.raises(ValueError, match=message):
        looks.fool(model, np.zeros((28, 28, 1)), target, epsilon=epsilon, steps=steps)


def test_the_shipped_model_is_fooled_into_each_target():
    model = load_default_model()
    _, (x, y) = load_mnist(subset=True)
    images = scale_images(x[:10])
    fooled = 0
    for n, image in enumerate(images):
        target = (int(y[n]) + 1 + n % 9) % 10  # never the true class
        attack = looks.fool(model, image, target, epsilon=0.3, steps=10)
        assert np.abs(attack.change).max() <= 0.3 + 1e-6
        fooled += attack.prediction == target
    assert fooled >= 8, f"{fooled} of 10 attacks reached their target"


# -- class visualisation --------------------------------------------------------------------
def test_class_picture_of_a_linear_model_is_ink_where_the_weight_is_positive():
    # Without the penalty and the blur the best picture in [0, 1] is 1 where w_k > 0, else 0.
    model, w = linear_model((5, 6, 1), 3, seed=7)
    result = looks.class_visualisation(
        model, 2, np.random.default_rng(0), steps=60, step_size=0.1, l2=0.0, blur_every=0
    )
    clear = np.abs(w[:, 2]) > 0.2 * np.abs(w[:, 2]).max()
    np.testing.assert_array_equal(result.image.ravel()[clear], (w[:, 2] > 0)[clear])
    assert np.all(np.diff(result.scores) >= -1e-12)  # ascent: the score never falls
    best = w[:, 2].clip(min=0).sum() + model.layers[1].params["b"][2]
    assert result.scores[-1] <= best + 1e-9


def test_class_picture_raises_the_score_of_the_shipped_model():
    model = load_default_model()
    result = looks.class_visualisation(model, 3, np.random.default_rng(0), steps=30)
    assert result.image.shape == (28, 28, 1)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert result.scores[-1] > result.scores[0] + 1.0
    z = model.forward(result.image[None], logits=True)[0]
    assert int(np.argmax(z)) == 3 and result.probability == pytest.approx(softmax(z)[3])


def test_blur_keeps_a_constant_image_and_sums():
    x = np.random.default_rng(0).random((2, 6, 5, 3))
    np.testing.assert_allclose(looks.blur(np.ones((1, 4, 4, 1))), 1.0)
    inner = looks.blur(x)[:, 1:-1, 1:-1]
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16
    expected = sum(kernel[p, q] * x[:, p : p + 4, q : q + 3] for p in range(3) for q in range(3))
    np.testing.assert_allclose(inner, expected, rtol=1e-12)
