"""im2col / col2im: layout by definition, adjointness, output-size formula, Keras padding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from oracles import im2col_naive

from tinycnn.kernels.geometry import conv_output_size, same_padding
from tinycnn.kernels.im2col import col2im, im2col
from tinycnn.testing.strategies import conv_configs


@given(conv_configs())
def test_im2col_equals_the_definition(cfg):
    x = cfg.x()
    cols = im2col(x, cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    np.testing.assert_array_equal(
        cols, im2col_naive(x, cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    )


@given(conv_configs())
def test_col2im_is_the_adjoint_of_im2col(cfg):
    x = cfg.x()
    S = (cfg.SH, cfg.SW)
    cols = im2col(x, cfg.KH, cfg.KW, S, cfg.padding)
    y = np.random.default_rng(cfg.seed + 1).standard_normal(cols.shape)
    dx = col2im(y, x.shape, cfg.KH, cfg.KW, S, cfg.padding)
    lhs, rhs = np.sum(cols * y), np.sum(x * dx)
    assert dx.shape == x.shape
    # relative to the sum of |terms|, the natural scale of the rounding error
    assert abs(lhs - rhs) <= 1e-12 * np.sum(np.abs(cols * y))


@given(conv_configs())
def test_shapes_follow_the_output_size_formula(cfg):
    if cfg.padding == "valid":
        OH, OW = (cfg.H - cfg.KH) // cfg.SH + 1, (cfg.W - cfg.KW) // cfg.SW + 1
    else:
        OH, OW = math.ceil(cfg.H / cfg.SH), math.ceil(cfg.W / cfg.SW)
    cols = im2col(cfg.x(), cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    assert cols.shape == (cfg.N * OH * OW, cfg.KH * cfg.KW * cfg.C)
    assert conv_output_size(cfg.H, cfg.KH, cfg.SH, cfg.padding) == OH
    assert conv_output_size(cfg.W, cfg.KW, cfg.SW, cfg.padding) == OW


def test_the_docstring_picture():
    x = np.arange(12.0).reshape(1, 3, 4, 1)  # a b c d / e f g h / i j k l  ->  0..11
    expected = [
        [0, 1, 4, 5],
        [1, 2, 5, 6],
        [2, 3, 6, 7],
        [4, 5, 8, 9],
        [5, 6, 9, 10],
        [6, 7, 10, 11],
    ]
    np.testing.assert_array_equal(im2col(x, 2, 2), expected)


@pytest.mark.parametrize(
    ("H", "K", "S", "pads"),
    [(5, 2, 1, (0, 1)), (6, 3, 2, (0, 1)), (7, 4, 1, (1, 2)), (5, 3, 1, (1, 1)), (4, 1, 3, (0, 0)),
     (3, 5, 1, (2, 2)), (28, 3, 1, (1, 1)), (6, 2, 2, (0, 0))],
)  # fmt: skip
def test_same_padding_puts_the_odd_extra_row_at_the_end(H, K, S, pads):
    assert same_padding(H, K, S) == pads


def test_same_padding_output_matches_keras_and_values_stay_in_place():
    x = np.arange(1.0, 6.0).reshape(1, 5, 1, 1)  # a column 1..5
    cols = im2col(x, 2, 1, 1, "same")  # one zero appended at the bottom
    np.testing.assert_array_equal(cols, [[1, 2], [2, 3], [3, 4], [4, 5], [5, 0]])


def test_float32_stays_float32():
    x = np.ones((1, 4, 5, 2), dtype=np.float32)
    cols = im2col(x, 2, 3, (1, 2), "same")
    assert cols.dtype == np.float32
    assert col2im(cols, x.shape, 2, 3, (1, 2), "same").dtype == np.float32


def test_overlapping_windows_add_up_in_col2im():
    ones = np.ones((1 * 2 * 2, 2 * 2 * 1))  # 3x3 image, 2x2 kernel, stride 1: 4 windows
    dx = col2im(ones, (1, 3, 3, 1), 2, 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_errors_name_expected_and_received():
    with pytest.raises(ValueError, match=r"4-D \(N, H, W, C\), got shape \(3, 4, 5\)"):
        im2col(np.zeros((3, 4, 5)), 2, 2)
    with pytest.raises(ValueError, match="does not fit"):
        im2col(np.zeros((1, 2, 5, 1)), 3, 3)
    with pytest.raises(ValueError, match="padding must be one of"):
        im2col(np.zeros((1, 4, 4, 1)), 2, 2, 1, "full")
    with pytest.raises(ValueError, match="S must be a positive int"):
        im2col(np.zeros((1, 4, 4, 1)), 2, 2, 0)
    with pytest.raises(ValueError, match=r"expected shape \(9, 4\).*got \(9, 5\)"):
        col2im(np.zeros((9, 5)), (1, 4, 4, 1), 2, 2)
