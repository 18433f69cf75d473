"""Preparing data for training: scaling, one-hot labels, a stratified split and mini-batches.

All randomness comes from an explicit seed or ``np.random.Generator``, so a run can be repeated
exactly. Nothing here knows about a test set: ``stratified_split`` splits whatever arrays it is
given (pass the training set, never the test set).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np


def scale_images(x: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1].

    Parameters
    ----------
    x : ndarray of uint8, shape (N, H, W, C) or any shape

    Returns
    -------
    ndarray of float32, same shape
        ``x / 255``, computed as a correctly rounded float32 division (like Keras tutorials'
        ``x.astype("float32") / 255``), so 0 -> 0.0 and 255 -> 1.0 exactly.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"scale_images expects uint8 pixels in [0, 255], got dtype {x.dtype}")
    return x.astype(np.float32) / np.float32(255)


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        Labels in ``[0, num_classes)``.
    num_classes : int
        K, the number of classes.

    Returns
    -------
    ndarray of float32, shape (N, K)
        ``out[n, k] = 1`` if ``y[n] == k`` else 0.
    """
    y = _check_labels(y, "one_hot")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}), got values from {y.min()} to {y.max()}"
        )
    out = np.zeros((y.shape[0], num_classes), dtype=np.float32)  # (N, K)
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def stratified_counts(class_counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` items among classes in proportion to ``class_counts``.

    Parameters
    ----------
    class_counts : ndarray of int, shape (K,)
        How many items each class has (n_k).
    total : int
        How many to take in all, at most ``sum(n_k)``.

    Returns
    -------
    ndarray of int64, shape (K,)
        Counts m_k with ``sum(m_k) == total`` and each ``m_k`` equal to ``floor(q_k)`` or
        ``ceil(q_k)`` where ``q_k = total * n_k / sum(n)``, so ``|m_k - q_k| < 1``.

    Notes
    -----
    Largest-remainder (Hamilton) apportionment: every class gets ``floor(q_k)``, then the
    remaining items go one each to the classes with the largest fractional parts, ties broken by
    the lower class index. Exact integer arithmetic, so it is the same on every machine.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    n_total = int(class_counts.sum())
    if not 0 <= total <= n_total:
        raise ValueError(f"total must be in [0, {n_total}], got {total}")
    if n_total == 0:
        return np.zeros_like(class_counts)
    scaled = class_counts * total  # q_k * n_total, exact in integers
    counts = scaled // n_total
    remainders = scaled % n_total
    left = total - int(counts.sum())
    order = np.lexsort((np.arange(class_counts.size), -remainders))
    counts[order[:left]] += 1
    return counts


def stratified_split(
    x: np.ndarray,
    y: np.ndarray,
    validation_fraction: float,
    seed: int | np.random.Generator | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split a training set into training and validation parts, class by class.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
        Samples, e.g. images (N, H, W, C).
    y : ndarray of int, shape (N,)
        Their labels.
    validation_fraction : float
        In (0, 1): the share of samples that goes to validation.
    seed : int or np.random.Generator or None
        Which samples of each class go to validation. The same seed gives the same split; None
        draws fresh randomness.

    Returns
    -------
    (x_train, y_train), (x_val, y_val)
        New arrays (copies). Samples keep their original order within each part. In total
        ``round(validation_fraction * N)`` samples go to validation, and each class contributes
        ``floor`` or ``ceil`` of ``validation_fraction * N_k`` (see ``stratified_counts``).
    """
    x = np.asarray(x)
    y = _check_labels(y, "stratified_split")
    if x.shape[:1] != y.shape:
        raise ValueError(f"x and y must have the same length N, got {x.shape} and {y.shape}")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    rng = np.random.default_rng(seed)
    classes, class_counts = np.unique(y, return_counts=True)
    n_val = stratified_counts(class_counts, round(validation_fraction * y.shape[0]))
    is_val = np.zeros(y.shape[0], dtype=bool)
    for k, m in zip(classes, n_val, strict=True):
        members = np.flatnonzero(y == k)
        is_val[rng.permutation(members)[:m]] = True
    return (x[~is_val], y[~is_val]), (x[is_val], y[is_val])


def minibatches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate once over the data in mini-batches (one epoch).

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    y : ndarray, shape (N, ...)
        Labels (or targets) aligned with ``x``.
    batch_size : int
        B, at least 1. The last batch holds the ``N % B`` leftover samples if any.
    rng : np.random.Generator, optional
        When given, the samples are visited in the order ``rng.permutation(N)`` (shuffled);
        otherwise in order.

    Yields
    ------
    xb : ndarray, shape (B, ...)
    yb : ndarray, shape (B, ...)
        One batch at a time, so only one batch of copies exists at once (views when unshuffled).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[:1] != y.shape[:1]:
        raise ValueError(f"x and y must have the same length N, got {x.shape} and {y.shape}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return _batches(x, y, int(batch_size), None if rng is None else rng.permutation(x.shape[0]))


def _batches(x, y, B: int, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The generator behind ``minibatches`` (kept apart so argument errors raise immediately)."""
    for start in range(0, x.shape[0], B):
        if order is None:
            yield x[start : start + B], y[start : start + B]
        else:
            batch = order[start : start + B]
            yield x[batch], y[batch]


def _check_labels(y: np.ndarray, caller: str) -> np.ndarray:
    """Labels as a 1-D integer array, or a ValueError naming the caller."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{caller} expects integer labels of shape (N,), got {y.dtype} of shape {y.shape}"
        )
    return y


def load_scaled(
    folder: str | os.PathLike | None = None, subset: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as a model takes it: pixels scaled to [0, 1] float32, labels int64.

    Parameters
    ----------
    folder : str or PathLike, optional
        A folder with the four MNIST files.
    subset : bool
        The embedded 10,000 + 2,000 image subset. With neither, the full set where it can be
        found, else the subset (``load_mnist_or_subset``).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape (N, 28, 28, 1) float32, ``y`` of shape (N,) int64.
    """
    from tinycnn.data.mnist import load_mnist, load_mnist_or_subset

    if subset and folder is not None:
        raise ValueError("give a folder or subset=True, not both")
    if subset:
        (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
    else:
        (x_train, y_train), (x_test, y_test) = load_mnist_or_subset(folder)
    return (scale_images(x_train), y_train.astype(np.int64)), (
        scale_images(x_test),
        y_test.astype(np.int64),
    )
