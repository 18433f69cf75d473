"""Hypothesis strategies for layer *configurations* (public: ``tinycnn.testing``).

A strategy draws shapes and hyperparameters plus a seed; the values come from
``np.random.default_rng(seed)``, so they are continuous and distinct (no accidental ties in a
max-pool window, no ReLU input near 0). ``pool_configs(ties=True)`` instead fills the input with
small integers, so windows tie often and the first-maximum rule is exercised.

Sizes (kept tiny so that hundreds of gradient checks run in seconds): batch N 1-3, H != W up to
9, channels 1-4, kernels up to 4 x 4 and often non-square, strides 1-3 per axis, both paddings.
Inputs are sometimes non-contiguous views (every other column of a wider array, or an NCHW array
seen through a transpose).

Use them in your own tests::

    from hypothesis import given
    from tinycnn.testing import conv_configs

    @given(conv_configs())
    def test_my_conv(config):
        x = config.x()  # (N, H, W, C), float64, maybe a non-contiguous view
        ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "LAYOUTS",
    "ConvConfig",
    "PoolConfig",
    "conv_configs",
    "images",
    "make_input",
    "pool_configs",
]

LAYOUTS = ("contiguous", "strided", "transposed")


def make_input(shape, seed: int, layout: str, dtype=np.float64, ties: bool = False) -> np.ndarray:
    """Array of ``shape`` (N, H, W, C) from ``default_rng(seed)``, stored as ``layout`` says.

    Parameters
    ----------
    shape : tuple of int, (N, H, W, C)
    seed : int
        Seed of ``np.random.default_rng``.
    layout : {"contiguous", "strided", "transposed"}
        ``"strided"``: every other column of an (N, H, 2W, C) array; ``"transposed"``: an
        (N, C, H, W) array seen through a transpose. Both are non-contiguous views.
    dtype : numpy dtype
    ties : bool
        Draw integers in [-2, 2] (many equal values) instead of standard normals.

    Returns
    -------
    x : ndarray, shape (N, H, W, C)
    """
    rng = np.random.default_rng(seed)
    N, H, W, C = shape
    storage = {"contiguous": (N, H, W, C), "strided": (N, H, 2 * W, C), "transposed": (N, C, H, W)}
    if ties:
        values = rng.integers(-2, 3, size=storage[layout]).astype(dtype)
    else:
        values = rng.standard_normal(storage[layout]).astype(dtype)
    if layout == "strided":
        return values[:, :, ::2, :]
    if layout == "transposed":
        return values.transpose(0, 2, 3, 1)
    return values


@dataclass(frozen=True)
class ConvConfig:
    """One Conv2D / im2col configuration; ``x()`` makes its input."""

    N: int
    H: int
    W: int
    C: int
    F: int
    KH: int
    KW: int
    SH: int
    SW: int
    padding: str
    layout: str
    seed: int

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return self.N, self.H, self.W, self.C

    def x(self, dtype=np.float64) -> np.ndarray:
        return make_input(self.x_shape, self.seed, self.layout, dtype)


@dataclass(frozen=True)
class PoolConfig:
    """One MaxPool2D configuration; ``x()`` makes its input (small integers if ``ties``)."""

    N: int
    H: int
    W: int
    C: int
    KH: int
    KW: int
    SH: int
    SW: int
    padding: str
    layout: str
    seed: int
    ties: bool

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return self.N, self.H, self.W, self.C

    def x(self, dtype=np.float64) -> np.ndarray:
        return make_input(self.x_shape, self.seed, self.layout, dtype, ties=self.ties)


@st.composite
def _window(draw, max_hw: int, max_k: int):
    """Image size H != W, a window that fits it under the drawn padding, strides, padding."""
    H = draw(st.integers(1, max_hw))
    W = draw(st.integers(1, max_hw).filter(lambda w: w != H))
    padding = draw(st.sampled_from(["valid", "same"]))
    fit_h, fit_w = (max_k, max_k) if padding == "same" else (min(max_k, H), min(max_k, W))
    KH, KW = draw(st.integers(1, fit_h)), draw(st.integers(1, fit_w))
    SH, SW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return H, W, KH, KW, SH, SW, padding


_seeds = st.integers(0, 2**32 - 1)


@st.composite
def conv_configs(draw, max_hw: int = 9, max_k: int = 4) -> ConvConfig:
    """Conv2D configurations: N 1-3, H != W <= max_hw, C and F 1-4, kernels up to max_k."""
    H, W, KH, KW, SH, SW, padding = draw(_window(max_hw, max_k))
    return ConvConfig(
        N=draw(st.integers(1, 3)),
        H=H,
        W=W,
        C=draw(st.integers(1, 4)),
        F=draw(st.integers(1, 4)),
        KH=KH,
        KW=KW,
        SH=SH,
        SW=SW,
        padding=padding,
        layout=draw(st.sampled_from(LAYOUTS)),
        seed=draw(_seeds),
    )


@st.composite
def pool_configs(draw, ties: bool = False, max_hw: int = 9) -> PoolConfig:
    """MaxPool2D configurations: windows up to 3 x 3, strides 1-3 (so windows may overlap)."""
    H, W, KH, KW, SH, SW, padding = draw(_window(max_hw, 3))
    return PoolConfig(
        N=draw(st.integers(1, 3)),
        H=H,
        W=W,
        C=draw(st.integers(1, 4)),
        KH=KH,
        KW=KW,
        SH=SH,
        SW=SW,
        padding=padding,
        layout=draw(st.sampled_from(LAYOUTS)),
        seed=draw(_seeds),
        ties=ties,
    )


@st.composite
def images(draw, max_hw: int = 9, max_c: int = 4, dtype=np.float64, ties: bool = False):
    """NHWC image batches: N 1-3, H and W 1-``max_hw``, C 1-``max_c``, any of ``LAYOUTS``.

    Values are standard normals from a drawn seed (integers in [-2, 2] with ``ties=True``).

    Returns
    -------
    strategy of ndarray, shape (N, H, W, C)
    """
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, max_hw)),
        draw(st.integers(1, max_hw)),
        draw(st.integers(1, max_c)),
    )
    return make_input(shape, draw(_seeds), draw(st.sampled_from(LAYOUTS)), dtype, ties)
