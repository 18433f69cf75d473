"""Metrics against hand-computed cases and the identities that tie them together."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.training.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    precision_recall_f1,
)

# 7 examples, 3 classes; worked out by hand:
#   true 0: predicted 0, 1        true 1: 1, 1        true 2: 2, 0, 2
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_confusion_matrix_by_hand():
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED), expected)


def test_accuracy_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)


def test_per_class_scores_by_hand():
    precision, recall, f1, support = precision_recall_f1(Y_TRUE, Y_PRED)
    # precision: column sums 2, 3, 2 -> 1/2, 2/3, 2/2; recall: row sums 2, 2, 3 -> 1/2, 2/2, 2/3
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 1.0])
    np.testing.assert_allclose(recall, [1 / 2, 1.0, 2 / 3])
    np.testing.assert_allclose(f1, [1 / 2, 0.8, 0.8])
    np.testing.assert_array_equal(support, [2, 2, 3])


def test_averages_by_hand():
    p, r, f, n = precision_recall_f1(Y_TRUE, Y_PRED, average="macro")
    assert (p, r, f, n) == pytest.approx(((1 / 2 + 2 / 3 + 1) / 3, (1 / 2 + 1 + 2 / 3) / 3, 0.7, 7))
    p, r, f, n = precision_recall_f1(Y_TRUE, Y_PRED, average="weighted")
    assert p == pytest.approx((2 * 1 / 2 + 2 * 2 / 3 + 3 * 1) / 7)
    assert r == pytest.approx(5 / 7)
    assert f == pytest.approx((2 * 0.5 + 2 * 0.8 + 3 * 0.8) / 7)


def test_classification_report_layout_matches_scikit_learn():
    expected = (
        "              precision    recall  f1-score   support\n"
        "\n"
        "           0       0.50      0.50      0.50         2\n"
        "           1       0.67      1.00      0.80         2\n"
        "           2       1.00      0.67      0.80         3\n"
        "\n"
        "    accuracy                           0.71         7\n"
        "   macro avg       0.72      0.72      0.70         7\n"
        "weighted avg       0.76      0.71      0.71         7\n"
    )
    assert classification_report(Y_TRUE, Y_PRED, digits=2) == expected


def test_classification_report_names_and_default_digits():
    text = classification_report(Y_TRUE, Y_PRED, target_names=["zero", "one", "two"])
    assert "        zero     0.5000    0.5000    0.5000         2" in text
    with pytest.raises(ValueError, match="expected 3 target_names"):
        classification_report(Y_TRUE, Y_PRED, target_names=["a", "b"], num_classes=3)


def test_class_never_predicted_scores_zero():
    precision, recall, f1, support = precision_recall_f1([0, 1, 2], [0, 0, 0], num_classes=3)
    np.testing.assert_allclose(precision, [1 / 3, 0, 0])
    np.testing.assert_allclose(recall, [1, 0, 0])
    np.testing.assert_allclose(f1, [0.5, 0, 0])


def test_scores_are_turned_into_labels():
    scores = np.eye(3)[Y_PRED] * 0.9 + 0.05
    assert accuracy(np.eye(3)[Y_TRUE], scores) == pytest.approx(5 / 7)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=">= 0"):
        confusion_matrix([0, -1], [0, 0])
    with pytest.raises(ValueError, match="num_classes=2"):
        confusion_matrix([0, 2], [0, 0], num_classes=2)
    with pytest.raises(ValueError, match="average"):
        precision_recall_f1([0], [0], average="micro")


labels = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 5), min_size=n, max_size=n),
        st.lists(st.integers(0, 5), min_size=n, max_size=n),
    )
)


@given(labels)
def test_identities(pair):
    y_true, y_pred = map(np.array, pair)
    N = len(y_true)
    cm = confusion_matrix(y_true, y_pred, num_classes=6)
    precision, recall, f1, support = precision_recall_f1(y_true, y_pred, num_classes=6)
    assert cm.sum() == N
    assert np.trace(cm) / N == pytest.approx(accuracy(y_true, y_pred))
    np.testing.assert_array_equal(cm.sum(axis=1), support)
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(y_pred, minlength=6))
    _, weighted_recall, _, _ = precision_recall_f1(y_true, y_pred, 6, average="weighted")
    assert weighted_recall == pytest.approx(accuracy(y_true, y_pred))
    both = (precision + recall) > 0
    harmonic = 2 / (1 / precision[both & (precision > 0)] + 1 / recall[both & (precision > 0)])
    np.testing.assert_allclose(f1[both & (precision > 0)], harmonic)
    assert np.all(f1 <= np.maximum(precision, recall) + 1e-12)
    assert np.all(f1 >= np.minimum(precision, recall) - 1e-12)
