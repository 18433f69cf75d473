"""Fused softmax cross-entropy: value, gradient, stability and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.losses import SoftmaxCrossEntropy, get_loss, log_softmax, softmax
from tinycnn.testing.gradcheck import gradcheck

shapes = st.tuples(st.integers(1, 5), st.integers(2, 7), st.integers(0, 2**32 - 1))


def draw_problem(N: int, K: int, seed: int, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, scale, size=(N, K))
    y = rng.integers(0, K, size=N)
    return logits, y


@given(shapes, st.floats(-50, 50))
def test_loss_and_gradient_are_shift_invariant(shape, shift):
    logits, y = draw_problem(*shape)
    ce = SoftmaxCrossEntropy()
    loss, grad = ce.forward(logits, y), ce.backward()
    loss_shifted = ce.forward(logits + shift, y)
    np.testing.assert_allclose(loss_shifted, loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ce.backward(), grad, rtol=1e-10, atol=1e-14)


@given(shapes)
def test_gradient_rows_sum_to_zero_and_equal_p_minus_y_over_n(shape):
    logits, y = draw_problem(*shape)
    ce = SoftmaxCrossEntropy()
    ce.forward(logits, y)
    grad = ce.backward()
    N, K = logits.shape
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)
    expected = (softmax(logits) - np.eye(K)[y]) / N
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


@given(shapes)
def test_loss_is_mean_negative_log_probability_of_true_class(shape):
    logits, y = draw_problem(*shape)
    naive = []
    for row, label in zip(logits.tolist(), y.tolist(), strict=True):
        total = sum(math.exp(v) for v in row)
        naive.append(-math.log(math.exp(row[label]) / total))
    loss = SoftmaxCrossEntropy().forward(logits, y)
    assert loss == pytest.approx(sum(naive) / len(naive), rel=1e-12)


@given(shapes)
def test_one_hot_labels_give_the_same_loss_and_gradient_as_integers(shape):
    logits, y = draw_problem(*shape)
    ce = SoftmaxCrossEntropy()
    loss_int, grad_int = ce.forward(logits, y), ce.backward()
    one_hot = np.eye(logits.shape[1], dtype=np.float32)[y]
    loss_hot, grad_hot = ce.forward(logits, one_hot), ce.backward()
    assert loss_hot == loss_int
    np.testing.assert_array_equal(grad_hot, grad_int)


def test_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, 1e4, 0.0]], dtype=np.float32)
    y = np.array([1, 2, 1])
    ce = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = ce.forward(logits, y)
        grad = ce.backward()
    # Row 0 is wrong by 1e4, row 1 is a three-way tie, row 2 is right with certainty.
    assert loss == pytest.approx((1e4 + math.log(3) + 0.0) / 3, rel=1e-6)
    expected = np.array([[1, -1, 0], [1 / 3, 1 / 3, -2 / 3], [0, 0, 0]]) / 3
    np.testing.assert_allclose(grad, expected, atol=1e-7)
    assert np.isfinite(log_softmax(logits)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_keeps_the_logits_dtype(dtype):
    ce = SoftmaxCrossEntropy()
    loss = ce.forward(np.zeros((2, 4), dtype=dtype), np.array([0, 3]))
    assert isinstance(loss, float)
    assert loss == pytest.approx(math.log(4), rel=1e-6)
    assert ce.backward().dtype == dtype


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0, 1]), r"labels of shape \(3,\)"),
        (np.array([0, 1, 4]), r"labels in \[0, 4\)"),
        (np.array([0, -1, 2]), r"labels in \[0, 4\)"),
        (np.zeros((3, 5)), r"one-hot labels of shape \(3, 4\), got \(3, 5\)"),
        (np.array([0.0, 1.0, 2.0]), "integer class labels"),
    ],
)
def test_bad_labels_raise_value_error_naming_the_expectation(y, message):
    with pytest.raises(ValueError, match=message):
        SoftmaxCrossEntropy().forward(np.zeros((3, 4)), y)


def test_logits_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"logits of shape \(N, K\), got \(3,\)"):
        SoftmaxCrossEntropy().forward(np.zeros(3), np.array([0, 1, 2]))


@pytest.mark.parametrize(
    "name", ["softmax_cross_entropy", "sparse_categorical_crossentropy", "categorical_crossentropy"]
)
def test_get_loss_maps_keras_names_to_the_fused_loss(name):
    assert isinstance(get_loss(name), SoftmaxCrossEntropy)


def test_get_loss_returns_objects_and_rejects_unknown_names():
    ce = SoftmaxCrossEntropy()
    assert get_loss(ce) is ce
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        get_loss("mse")


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="call forward before backward"):
        SoftmaxCrossEntropy().backward()


@given(shapes)
def test_gradcheck_of_the_loss(shape):
    logits, y = draw_problem(*shape, scale=1.0)
    # eps = 3e-5: see test_dense.test_gradcheck (rounding ~1e-16/eps vs truncation ~eps**2).
    result = gradcheck(SoftmaxCrossEntropy(), logits, y, eps=3e-5)
    assert result.max_rel_error <= 1e-7, str(result)
    assert min(t.n_checked for t in result.tensors) > 0  # not passed by checking nothing


@given(
    st.integers(1, 4),
    st.integers(2, 10),
    st.floats(200, 1e4),
    st.sampled_from([np.float32, np.float64]),
)
def test_a_certain_prediction_has_loss_plus_zero_never_minus_zero(N, K, margin, dtype):
    """When every true-class probability rounds to 1 the loss is 0.0, printed "0.0000"
    (the negated sum used to give -0.0, which Keras-style progress printed as "-0.0000")."""
    y = np.arange(N) % K
    logits = np.zeros((N, K), dtype=dtype)
    logits[np.arange(N), y] = margin  # (N, K): the true class far ahead
    ce = SoftmaxCrossEntropy()
    loss = ce.forward(logits, y)
    assert loss == 0.0 and math.copysign(1.0, loss) == 1.0
    assert f"{loss:.4f}" == "0.0000"
    model_loss = f"loss: {ce.forward(logits, y):.4f}"
    assert "-" not in model_loss
