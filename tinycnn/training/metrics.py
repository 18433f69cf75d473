"""Classification metrics: accuracy, confusion matrix, precision, recall, F1 and a text report.

Every function takes true labels and predicted labels as integer arrays of shape ``(N,)``. Scores
of shape ``(N, K)`` (one-hot labels, probabilities or logits) are accepted too and turned into
labels with ``argmax`` over the last axis.

Notes
-----
With the confusion matrix ``cm[t, p]`` = number of examples of true class ``t`` predicted as ``p``
(rows are true classes, columns predictions, as in scikit-learn)::

    accuracy     = Σ_k cm[k, k] / N
    precision[k] = cm[k, k] / Σ_t cm[t, k]        (of the examples predicted k, how many are k)
    recall[k]    = cm[k, k] / Σ_p cm[k, p]        (of the examples that are k, how many were found)
    f1[k]        = 2 precision[k] recall[k] / (precision[k] + recall[k])   (harmonic mean)
    support[k]   = Σ_p cm[k, p]

A ratio whose denominator is 0 is defined as 0 (scikit-learn's ``zero_division=0``). The macro
average is the plain mean over classes; the weighted average weights class ``k`` by
``support[k] / N``, which makes the weighted recall equal to the accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

AVERAGES = (None, "macro", "weighted")


def to_labels(y: ArrayLike, name: str = "y") -> NDArray[np.int64]:
    """Integer labels ``(N,)`` from labels ``(N,)`` or scores/one-hot rows ``(N, K)``."""
    y = np.asarray(y)
    if y.ndim == 2:
        return np.argmax(y, axis=1).astype(np.int64)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected labels of shape (N,) or scores (N, K), got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{name}: labels must be whole numbers, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0, got {y.min()}")
    return y.astype(np.int64)


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    t, p = to_labels(y_true, "y_true"), to_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.shape[0]} labels but y_pred has {p.shape[0]}")
    return t, p


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of examples whose predicted label equals the true label.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,) or (N, K)
        Labels, or scores turned into labels with argmax.

    Returns
    -------
    float
        In [0, 1]; ``nan`` for N = 0.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> NDArray[np.int64]:
    """Counts ``cm[t, p]`` of examples of true class ``t`` predicted as class ``p``.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,) or (N, K)
    num_classes : int, optional
        K; by default one more than the largest label seen.

    Returns
    -------
    cm : ndarray of int64, shape (K, K)
        Rows are true classes, columns predicted classes; ``cm.sum() == N``.
    """
    t, p = _pair(y_true, y_pred)
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    K = seen if num_classes is None else int(num_classes)
    if K < seen:
        raise ValueError(f"num_classes={K} but a label {seen - 1} was found")
    return np.bincount(t * K + p, minlength=K * K).reshape(K, K).astype(np.int64)


def _ratio(num: NDArray, den: NDArray) -> NDArray[np.float64]:
    """num / den elementwise, 0 where den == 0 (scikit-learn's zero_division=0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def precision_recall_f1(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int | None = None,
    average: str | None = None,
) -> tuple:
    """Precision, recall, F1 and support, per class or averaged.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,) or (N, K)
    num_classes : int, optional
        K; by default one more than the largest label seen.
    average : {None, "macro", "weighted"}
        None gives one value per class; "macro" the unweighted mean over classes; "weighted" the
        mean weighted by support.

    Returns
    -------
    precision, recall, f1 : ndarray, shape (K,), or float when averaged
    support : ndarray of int64, shape (K,), or int (N) when averaged
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    precision = _ratio(tp, cm.sum(axis=0))
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    if average is None:
        return precision, recall, f1, support
    weights = np.ones(len(tp)) / len(tp) if average == "macro" else _ratio(support, support.sum())
    return (
        float(precision @ weights),
        float(recall @ weights),
        float(f1 @ weights),
        int(support.sum()),
    )


def classification_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    target_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    digits: int = 4,
) -> str:
    """A text table of per-class precision, recall, F1 and support, laid out like scikit-learn's.

    One row per class, then ``accuracy``, ``macro avg`` and ``weighted avg``::

                      precision    recall  f1-score   support

                   0     0.9939    0.9959    0.9949       980
                 ...
            accuracy                         0.9925     10000
           macro avg     0.9925    0.9924    0.9924     10000
        weighted avg     0.9925    0.9925    0.9925     10000

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,) or (N, K)
    target_names : sequence of str, optional
        One name per class; by default the class numbers.
    num_classes : int, optional
        K; by default ``len(target_names)`` or one more than the largest label seen.
    digits : int
        Decimals of the scores (scikit-learn's default is 2; 4 shows differences near 99%).
    """
    if num_classes is None and target_names is not None:
        num_classes = len(target_names)
    precision, recall, f1, support = precision_recall_f1(y_true, y_pred, num_classes)
    names = [str(k) for k in range(len(support))] if target_names is None else list(target_names)
    if len(names) != len(support):
        raise ValueError(f"expected {len(support)} target_names, got {len(names)}")
    width = max([len(n) for n in names] + [len("weighted avg"), digits])
    head = f"{'':>{width}s} " + "".join(f" {h:>9}" for h in ("precision", "recall", "f1-score"))
    lines = [head + f" {'support':>9}", ""]
    for name, *scores, n in zip(names, precision, recall, f1, support, strict=True):
        lines.append(_report_row(name, scores, n, width, digits))
    lines.append("")
    N = int(support.sum())
    acc = float(np.sum(np.diag(confusion_matrix(y_true, y_pred, len(names))))) / max(N, 1)
    lines.append(f"{'accuracy':>{width}s}  {'':>9} {'':>9} {acc:>9.{digits}f} {N:>9}")
    for average in ("macro", "weighted"):
        *scores, n = precision_recall_f1(y_true, y_pred, len(names), average=average)
        lines.append(_report_row(f"{average} avg", scores, n, width, digits))
    return "\n".join(lines) + "\n"


def _report_row(name: str, scores: Sequence[float], n: int, width: int, digits: int) -> str:
    cells = "".join(f" {s:>9.{digits}f}" for s in scores)
    return f"{name:>{width}s} {cells} {int(n):>9}"
