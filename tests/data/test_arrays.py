"""Scaling, one-hot labels, the stratified split and mini-batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.data.arrays import (
    minibatches,
    one_hot,
    scale_images,
    stratified_counts,
    stratified_split,
)

LABELS = st.lists(st.integers(0, 9), min_size=1, max_size=200).map(np.array)
FRACTIONS = st.floats(0.01, 0.99)


def test_scale_images_maps_0_255_to_0_1_in_float32():
    x = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    out = scale_images(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, np.array([[0, 1, 128, 255]], np.float32) / np.float32(255))
    assert out[0, 0] == 0.0 and out[0, 3] == 1.0


def test_scale_images_refuses_non_uint8():
    with pytest.raises(ValueError, match="expects uint8 pixels.*got dtype float32"):
        scale_images(np.zeros(3, np.float32))


@given(y=LABELS, extra=st.integers(0, 5))
def test_one_hot_rows_sum_to_one_at_the_label(y, extra):
    K = 10 + extra
    out = one_hot(y, K)
    assert out.shape == (y.size, K) and out.dtype == np.float32
    np.testing.assert_array_equal(out.sum(axis=1), np.ones(y.size))
    np.testing.assert_array_equal(out.argmax(axis=1), y)
    assert set(np.unique(out)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("y", "K", "message"),
    [
        (np.array([0, 10]), 10, r"labels must be in \[0, 10\), got values from 0 to 10"),
        (np.array([-1, 2]), 10, "got values from -1 to 2"),
        (np.array([0.0, 1.0]), 10, "integer labels of shape"),
        (np.zeros((2, 2), int), 10, r"integer labels of shape \(N,\), got int64 of shape \(2, 2\)"),
        (np.array([0]), 0, "num_classes must be at least 1"),
    ],
)
def test_one_hot_refuses_bad_labels(y, K, message):
    with pytest.raises(ValueError, match=message):
        one_hot(y, K)


@given(
    class_counts=st.lists(st.integers(0, 1000), min_size=1, max_size=12).map(np.array),
    share=st.floats(0, 1),
)
def test_stratified_counts_sum_to_total_and_stay_within_one(class_counts, share):
    total = round(share * class_counts.sum())
    counts = stratified_counts(class_counts, total)
    assert counts.sum() == total
    assert np.all(counts <= class_counts)
    if class_counts.sum():
        exact = total * class_counts / class_counts.sum()
        assert np.all(np.abs(counts - exact) < 1)


def test_stratified_counts_known_case():
    # Quotas 3.75, 1.25, 1.25, 0.75 -> floors 3, 1, 1, 0 (sum 5); one left for the largest
    # remainder, class 0 (0.75) beats class 3 (0.75) by the lower index.
    np.testing.assert_array_equal(stratified_counts(np.array([15, 5, 5, 3]), 7), [4, 1, 1, 1])


@given(y=LABELS, fraction=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_stratified_split_is_a_stratified_partition(y, fraction, seed):
    ids = np.arange(y.size)  # the samples are their own indices
    (ids_tr, y_tr), (ids_val, y_val) = stratified_split(ids, y, fraction, seed)
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_tr, ids_val])), ids)
    np.testing.assert_array_equal(y[ids_tr], y_tr)
    np.testing.assert_array_equal(y[ids_val], y_val)
    assert np.all(np.diff(ids_tr) > 0) and np.all(np.diff(ids_val) > 0)  # order kept
    assert ids_val.size == round(fraction * y.size)
    for k in np.unique(y):
        assert abs(np.sum(y_val == k) - fraction * np.sum(y == k)) < 1


@given(y=LABELS, fraction=FRACTIONS, seed=st.integers(0, 2**32 - 1))
def test_stratified_split_is_deterministic_for_a_seed(y, fraction, seed):
    x = np.arange(y.size * 2).reshape(y.size, 2)
    y_before, x_before = y.copy(), x.copy()
    first = stratified_split(x, y, fraction, seed)
    second = stratified_split(x, y, fraction, np.random.default_rng(seed))
    for a, b in zip([*first[0], *first[1]], [*second[0], *second[1]], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, x_before)  # the inputs are left alone
    np.testing.assert_array_equal(y, y_before)


def test_stratified_split_depends_on_the_seed():
    y = np.repeat(np.arange(10), 100)
    ids = np.arange(y.size)
    draws = {tuple(stratified_split(ids, y, 0.1, seed)[1][0]) for seed in range(5)}
    assert len(draws) == 5


@pytest.mark.parametrize(
    ("x", "y", "fraction", "message"),
    [
        (np.zeros(4), np.zeros(4, int), 0.0, r"validation_fraction must be in \(0, 1\), got 0.0"),
        (np.zeros(4), np.zeros(4, int), 1.0, "got 1.0"),
        (np.zeros(4), np.zeros(3, int), 0.5, r"same length N, got \(4,\) and \(3,\)"),
        (np.zeros(4), np.zeros(4), 0.5, "integer labels"),
    ],
)
def test_stratified_split_refuses_bad_arguments(x, y, fraction, message):
    with pytest.raises(ValueError, match=message):
        stratified_split(x, y, fraction, 0)


@given(
    N=st.integers(1, 100),
    batch_size=st.integers(1, 40),
    seed=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
def test_minibatches_cover_every_index_once_per_epoch(N, batch_size, seed):
    x = np.arange(N)
    y = -np.arange(N)
    rng = None if seed is None else np.random.default_rng(seed)
    batches = list(minibatches(x, y, batch_size, rng))
    assert len(batches) == -(-N // batch_size)
    assert all(len(xb) == batch_size for xb, _ in batches[:-1])
    assert 1 <= len(batches[-1][0]) <= batch_size
    seen = np.concatenate([xb for xb, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), x)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), -seen)  # aligned
    if rng is None:
        np.testing.assert_array_equal(seen, x)


def test_minibatches_shuffle_with_the_rng_and_repeat_with_its_seed():
    x = np.arange(50)
    first = np.concatenate([xb for xb, _ in minibatches(x, x, 8, np.random.default_rng(3))])
    second = np.concatenate([xb for xb, _ in minibatches(x, x, 8, np.random.default_rng(3))])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, np.random.default_rng(3).permutation(50))
    assert not np.array_equal(first, x)


def test_minibatches_keep_the_trailing_axes():
    x = np.zeros((10, 28, 28, 1), np.float32)
    y = np.zeros((10, 10), np.float32)
    xb, yb = next(minibatches(x, y, 4, np.random.default_rng(0)))
    assert xb.shape == (4, 28, 28, 1) and yb.shape == (4, 10)


@pytest.mark.parametrize(
    ("n_y", "batch_size", "message"),
    [
        (4, 0, "batch_size must be a positive integer, got 0"),
        (4, 2.5, "got 2.5"),
        (3, 2, r"same length N, got \(4,\) and \(3,\)"),
    ],
)
def test_minibatches_refuse_bad_arguments_at_the_call(n_y, batch_size, message):
    with pytest.raises(ValueError, match=message):
        minibatches(np.zeros(4), np.zeros(n_y), batch_size)
