"""Augmentation: exact geometry on known transforms, seeding, shapes, and the picture grid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.training.augment import Augmenter, affine_warp, example_grid


def batch(N=3, H=9, W=7, C=2, seed=0):
    return np.random.default_rng(seed).random((N, H, W, C), dtype=np.float32)


def test_identity_is_exact():
    x = batch()
    out = affine_warp(x, np.zeros(3), np.zeros((3, 2)), np.ones(3))
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.float32


def test_quarter_turn_is_rot90_counter_clockwise():
    x = batch(H=8, W=8)
    out = affine_warp(x, np.full(3, 90.0), np.zeros((3, 2)), np.ones(3))
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(1, 2)), atol=1e-6)


@given(st.integers(-4, 4), st.integers(-4, 4), st.integers(0, 1000))
def test_integer_shift_moves_content_and_fills_zeros(ty, tx, seed):
    x = batch(N=2, seed=seed)
    out = affine_warp(x, np.zeros(2), np.tile([ty, tx], (2, 1)), np.ones(2))
    H, W = x.shape[1:3]
    expected = np.zeros_like(x)
    src = x[:, max(-ty, 0) : H - max(ty, 0), max(-tx, 0) : W - max(tx, 0)]
    expected[:, max(ty, 0) : H - max(-ty, 0), max(tx, 0) : W - max(-tx, 0)] = src
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_zoom_two_enlarges_about_the_centre():
    x = np.zeros((1, 9, 9, 1), dtype=np.float32)
    x[0, 3:6, 3:6] = 1.0  # a 3x3 square in the middle
    out = affine_warp(x, np.zeros(1), np.zeros((1, 2)), np.full(1, 2.0))
    assert out[0, 4, 4, 0] == 1.0 and out[0, 2, 2, 0] == 1.0 and out[0, 1, 1, 0] < 1.0
    np.testing.assert_allclose(out[0, ..., 0], out[0, ::-1, ::-1, 0])  # still centred


def test_half_pixel_shift_averages_neighbours():
    x = np.zeros((1, 1, 4, 1), dtype=np.float32)
    x[0, 0, :, 0] = [0, 1, 2, 3]
    out = affine_warp(x, np.zeros(1), np.array([[0.0, 0.5]]), np.ones(1))
    np.testing.assert_allclose(out[0, 0, :, 0], [0, 0.5, 1.5, 2.5])


def test_seeded_and_varied():
    x = batch(N=4)
    aug = Augmenter(rotation_range=15, shift_range=0.1, zoom_range=0.1)
    a = aug(x, np.random.default_rng(1))
    b = aug(x, np.random.default_rng(1))
    c = aug(x, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert a.min() >= 0 and a.max() <= 1 + 1e-6  # convex mixes of pixels and 0
    assert not np.array_equal(a, x)


def test_parameter_ranges_are_respected():
    aug = Augmenter(rotation_range=10, shift_range=0.1, zoom_range=0.2)
    angle, shift, zoom = aug.random_parameters(1000, 28, 20, np.random.default_rng(0))
    assert np.abs(angle).max() <= 10 and np.abs(angle).max() > 9
    assert np.abs(shift[:, 0]).max() <= 2.8 and np.abs(shift[:, 1]).max() <= 2.0
    assert 0.8 <= zoom.min() and zoom.max() <= 1.2


def test_bad_arguments():
    with pytest.raises(ValueError, match="rotation_range"):
        Augmenter(rotation_range=-1)
    with pytest.raises(ValueError, match="zoom_range"):
        Augmenter(zoom_range=1.5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        Augmenter()(np.zeros((28, 28)), np.random.default_rng(0))


def test_example_grid():
    x = batch(N=2, H=5, W=4, C=1)
    grid = example_grid(x, Augmenter(), np.random.default_rng(0), variants=3, pad=1)
    assert grid.shape == (2 * 6 - 1, 4 * 5 - 1)
    np.testing.assert_array_equal(grid[0:5, 0:4], x[0, ..., 0])
    np.testing.assert_array_equal(grid[6:11, 0:4], x[1, ..., 0])
    assert np.all(grid[5, :] == 0) and np.all(grid[:, 4] == 0)
    assert Augmenter(5, 0.05, 0.1).get_config() == {
        "rotation_range": 5.0,
        "shift_range": 0.05,
        "zoom_range": 0.1,
    }
