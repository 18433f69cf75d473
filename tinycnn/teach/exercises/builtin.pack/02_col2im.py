"""Exercise col2im: add every row of ``cols`` back onto the window it came from.

``col2im`` is the adjoint of ``im2col``, which the backward pass of a convolution needs:
``dx = col2im(dcols, ...)``. Where windows overlap (a stride smaller than the kernel), a pixel
receives the **sum** of the contributions of every window that covers it. It is not the inverse
of ``im2col``: ``col2im(im2col(x))`` is ``x`` times the number of windows covering each pixel.

Shapes::

    cols   (N*OH*OW, KH*KW*C)          one row per window, laid out as im2col makes it
    dx_pad (N, H + pads, W + pads, C)  the padded sum; start from zeros
    dx     (N, H, W, C)                dx_pad without the padding

For every row and column of ``cols``::

    dx_pad[n, SH*i + p, SW*j + q, c] += cols[(n*OH + i)*OW + j, (p*KW + q)*C + c]

``OH, OW = output_hw(x_shape, KH, KW, (SH, SW), padding)`` and
``(top, bottom), (left, right) = pad_amounts(x_shape, KH, KW, (SH, SW), padding)``.

Worked example: a 1 x 3 x 3 x 1 image of ones, a 2 x 2 kernel, stride 1: ``col2im(im2col(x))``
counts the windows covering each pixel::

    1 2 1
    2 4 2
    1 2 1

Property: ``<im2col(x), y> == <x, col2im(y)>`` for every ``x`` and ``y`` (the adjoint).

Check your answer: ``tinycnn exercises check col2im DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_amounts


def col2im(cols, x_shape, KH, KW, S=(1, 1), padding="valid"):
    """Add each row of ``cols`` onto the pixels its window covers.

    Parameters
    ----------
    cols : ndarray, shape (N*OH*OW, KH*KW*C)
    x_shape : tuple of int, (N, H, W, C)
        Shape of the image the windows were taken from.
    KH, KW : int
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}
        Contributions that land in the padding are dropped.

    Returns
    -------
    dx : ndarray, shape (N, H, W, C), same dtype as ``cols``
    """
    ### BEGIN SOLUTION
    N, H, W, C = x_shape
    SH, SW = S
    OH, OW = output_hw(x_shape, KH, KW, (SH, SW), padding)
    (top, bottom), (left, right) = pad_amounts(x_shape, KH, KW, (SH, SW), padding)
    cols = cols.reshape(N, OH, OW, KH, KW, C)
    dx_pad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=cols.dtype)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] += cols[:, :, :, p, q, :]
    return dx_pad[:, top : top + H, left : left + W, :]
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from functools import partial  # noqa: E402

from tinycnn.kernels.im2col import col2im as reference_col2im  # noqa: E402
from tinycnn.kernels.im2col import im2col as reference_im2col  # noqa: E402
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_array,
    plotted,
)
from tinycnn.testing.strategies import ConvConfig, conv_configs  # noqa: E402


def _assigned(cols, x_shape, KH, KW, S, padding, add=False, from_corner=False):
    """col2im with ``=`` instead of ``+=`` (the last window wins where windows overlap), or
    (``add, from_corner``) cropping the padded sum from its top-left corner."""
    N, H, W, C = x_shape
    OH, OW = output_hw(x_shape, KH, KW, S, padding)
    (top, bottom), (left, right) = pad_amounts(x_shape, KH, KW, S, padding)
    cols = cols.reshape(N, OH, OW, KH, KW, C)
    dx_pad = np.zeros((N, H + top + bottom, W + left + right, C), dtype=cols.dtype)
    for p in range(KH):
        for q in range(KW):
            window = dx_pad[:, p : p + S[0] * OH : S[0], q : q + S[1] * OW : S[1], :]
            window[...] = window + cols[:, :, :, p, q] if add else cols[:, :, :, p, q]
    if from_corner:
        return dx_pad[:, :H, :W, :]
    return dx_pad[:, top : top + H, left : left + W, :]


def _mistakes(cols, x_shape, KH, KW, S, padding):
    return [
        (
            lambda: _assigned(cols, x_shape, KH, KW, S, padding),
            "overlapping windows must ADD into dx (+=); assigning (=) keeps only the last "
            "window's contribution",
        ),
        (
            lambda: _assigned(cols, x_shape, KH, KW, S, padding, add=True, from_corner=True),
            "drop the padding on every side: dx = dx_pad[:, top:top + H, left:left + W, :], "
            "not the first H rows and W columns",
        ),
    ]


def _call(student, cols, x_shape, KH, KW, S, padding, what="dx"):
    args = (cols, x_shape, KH, KW, S, padding)
    compare(what, reference_col2im(*args), student.call("col2im", *args), _mistakes(*args))


def check_shapes(student) -> None:
    x_shape = (2, 5, 4, 3)
    cols = np.ones((2 * 3 * 3, 3 * 2 * 3), dtype=np.float32)
    dx = student.call("col2im", cols, x_shape, 3, 2, (1, 1), "valid")
    where = "cols float32 (18, 18), x_shape (2, 5, 4, 3), a 3x2 kernel, stride 1, 'valid'"
    expect_array(dx, "dx (x_shape)", x_shape, np.float32, where)


def check_worked_example(student) -> None:
    x_shape = (1, 3, 3, 1)
    cols = reference_im2col(np.ones(x_shape), 2, 2, (1, 1), "valid")
    _call(
        student,
        cols,
        x_shape,
        2,
        2,
        (1, 1),
        "valid",
        "col2im(im2col(ones)) (the window counts 1 2 1 / 2 4 2 / 1 2 1)",
    )


def _adjoint_case(student, config: ConvConfig) -> None:
    x = config.x()
    S = (config.SH, config.SW)
    cols = reference_im2col(x, config.KH, config.KW, S, config.padding)
    y = np.random.default_rng(config.seed).standard_normal(cols.shape)
    dx = student.call("col2im", y, x.shape, config.KH, config.KW, S, config.padding)
    compare(
        "<x, col2im(y)> (must equal <im2col(x), y>)",
        np.vdot(cols, y),
        np.vdot(x, np.asarray(dx)) if np.shape(dx) == x.shape else dx,
        [
            (partial(_inner, x, wrong), hint)
            for wrong, hint in _mistakes(y, x.shape, config.KH, config.KW, S, config.padding)
        ],
    )


def _inner(x, wrong):
    """``<x, wrong()>``: a mistake's col2im seen through the adjoint test."""
    return np.vdot(x, wrong())


def check_adjoint(student) -> None:
    against_reference(conv_configs(), lambda config: _adjoint_case(student, config))


def _reference_case(student, config: ConvConfig) -> None:
    S = (config.SH, config.SW)
    cols = reference_im2col(config.x(), config.KH, config.KW, S, config.padding)
    y = np.random.default_rng(config.seed).standard_normal(cols.shape)
    _call(student, y, config.x_shape, config.KH, config.KW, S, config.padding)


def check_reference(student) -> None:
    against_reference(conv_configs(), lambda config: _reference_case(student, config))


QUESTIONS = (
    Question(
        "windows_at_1_1",
        "A 3 x 3 image, a 2 x 2 kernel, stride 1, 'valid': how many windows cover pixel (1, 1)?",
        4,
        "every one of the OH*OW = 2*2 windows contains the centre pixel, so col2im adds 4 rows",
    ),
    Question(
        "windows_at_corner_stride_2",
        "A 5 x 5 image, a 3 x 3 kernel, stride 2, 'valid': how many windows cover pixel (2, 2)?",
        4,
        "windows start at rows 0 and 2 and columns 0 and 2; all four reach row and column 2",
    ),
    Question(
        "roundtrip",
        "What is col2im(im2col(x)) for an image x?",
        "b",
        "each pixel receives one copy from every window that covers it: col2im is the adjoint of "
        "im2col, not its inverse",
        choices=(
            "x itself: col2im undoes im2col",
            "x times the number of windows that cover each pixel",
            "x divided by the number of windows that cover each pixel",
        ),
    ),
)

HINTS = HintLadder(
    shapes="dx_pad is (N, H + pads, W + pads, C), zeros to start. Reshape cols to (N, OH, OW, KH, "
    "KW, C); every entry of it lands on exactly one pixel of dx_pad, and pixels shared by "
    "several windows receive the sum of their entries.",
    path="Run im2col backwards: for each offset (p, q), the entries cols6[:, :, :, p, q, :] came "
    "from a strided slice of x_pad; add them back onto the same slice of dx_pad. Then cut the "
    "padding off on all four sides (hint-col2im.png: a 3 x 3 window sliding with stride 1 "
    "covers the middle pixels several times).",
    formula="dx_pad[:, p : p + SH*OH : SH, q : q + SW*OW : SW, :] += cols6[:, :, :, p, q, :] for "
    "each p, q; return dx_pad[:, top : top + H, left : left + W, :] with (top, bottom), (left, "
    "right) = pad_amounts(...).",
    picture=plotted(
        "plot_sliding_kernel", np.arange(16.0).reshape(4, 4), np.ones((3, 3)), 1, 0, frame=1
    ),
)


EXERCISE = Exercise(
    name="col2im",
    topic="the adjoint of im2col: rows back onto the image, overlaps added",
    functions=("col2im",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("property: col2im is the adjoint of im2col", check_adjoint),
        Check("matches the reference on drawn configurations", check_reference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
