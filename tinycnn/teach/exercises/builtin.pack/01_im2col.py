"""Exercise im2col: copy every KH x KW window of an image into one row of a matrix.

A convolution slides a window over the (padded) image. ``im2col`` lays every window out as one
row, so that the whole convolution becomes one matrix multiply ``cols @ w.reshape(-1, F)``.

Shapes::

    x     (N, H, W, C)               input images (NHWC), maybe a non-contiguous view
    x_pad (N, H + pads, W + pads, C) padded input (``pad_input`` below does it for you)
    cols  (N*OH*OW, KH*KW*C)         one row per window

Row ``(n*OH + i)*OW + j`` holds the window of output pixel ``(n, i, j)``, read top to bottom,
left to right, channels innermost::

    cols[(n*OH + i)*OW + j, (p*KW + q)*C + c] = x_pad[n, SH*i + p, SW*j + q, c]

with ``OH, OW = output_hw(x.shape, KH, KW, (SH, SW), padding)``.

Worked example (N = C = 1, a 3 x 4 image, a 2 x 2 kernel, stride 1, "valid": OH = 2, OW = 3)::

    x = 0 1 2  3        cols = 0 1 4 5      (window at i=0, j=0)
        4 5 6  7               1 2 5 6      (i=0, j=1)
        8 9 10 11              2 3 6 7      (i=0, j=2)
                               4 5 8 9      (i=1, j=0) ...

Check your answer: ``tinycnn exercises check im2col DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_input


def im2col(x, KH, KW, S=(1, 1), padding="valid"):
    """Every KH x KW window of ``x`` as one row.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    KH, KW : int
        Window height and width.
    S : tuple of int, (SH, SW)
        Strides.
    padding : {"valid", "same"}
        ``pad_input(x, KH, KW, S, padding)`` pads as Keras does (zeros; an odd extra row or
        column goes at the bottom or right).

    Returns
    -------
    cols : ndarray, shape (N*OH*OW, KH*KW*C), same dtype as ``x``
    """
    ### BEGIN SOLUTION
    N, _, _, C = x.shape
    SH, SW = S
    OH, OW = output_hw(x.shape, KH, KW, (SH, SW), padding)
    x_pad = pad_input(x, KH, KW, (SH, SW), padding)  # (N, H + pads, W + pads, C)
    cols = np.empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    for p in range(KH):
        for q in range(KW):
            cols[:, :, :, p, q, :] = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]
    return cols.reshape(N * OH * OW, KH * KW * C)
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
# The checks (deleted from the student's file). Imports here, not at the top, so that the
# handout above is complete on its own.
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


def _mistakes(x, KH, KW, S, padding):
    """Outputs of common mistakes on this input, with their hints (fingerprints)."""
    N, H, W, C = x.shape
    right = reference_im2col(x, KH, KW, S, padding)
    return [
        (
            lambda: right.reshape(-1, KH, KW, C).transpose(0, 3, 1, 2).reshape(right.shape),
            "the columns are in (c, p, q) order; NHWC reads each window as (p, q, c), "
            "channels innermost, so that cols @ w.reshape(KH*KW*C, F) matches the kernel",
        ),
        (
            lambda: right.reshape(-1, KH, KW, C).transpose(0, 2, 1, 3).reshape(right.shape),
            "the window is read column by column (q before p); read it row by row: "
            "column index (p*KW + q)*C + c",
        ),
        (
            lambda: reference_im2col(x, KH, KW, (1, 1), padding)[: right.shape[0]],
            "the stride is ignored: window (i, j) starts at row SH*i and column SW*j",
        ),
        (
            lambda: (
                reference_im2col(x, KH, KW, S, padding)
                .reshape(N, -1, right.shape[1])
                .transpose(1, 0, 2)
                .reshape(right.shape)
            ),
            "rows are ordered (i, j, n); they must be (n, i, j): row (n*OH + i)*OW + j",
        ),
    ]


def _check_case(student, config: ConvConfig) -> None:
    x = config.x()
    args = (x, config.KH, config.KW, (config.SH, config.SW), config.padding)
    compare("cols", reference_im2col(*args), student.call("im2col", *args), _mistakes(*args))


def check_shapes(student) -> None:
    x = np.arange(2 * 5 * 4 * 3, dtype=np.float32).reshape(2, 5, 4, 3)
    cols = student.call("im2col", x, 3, 2, (1, 1), "valid")
    where = "x float32 (2, 5, 4, 3), a 3x2 kernel, stride 1, 'valid': OH = 3, OW = 3"
    expect_array(cols, "cols (N*OH*OW, KH*KW*C)", (18, 18), np.float32, where)


def check_worked_example(student) -> None:
    x = np.arange(12.0).reshape(1, 3, 4, 1)
    args = (x, 2, 2, (1, 1), "valid")
    compare(
        "cols of the worked example in the docstring",
        reference_im2col(*args),
        student.call("im2col", *args),
        _mistakes(*args),
    )


def check_reference(student) -> None:
    against_reference(conv_configs(), lambda config: _check_case(student, config))


def check_same_padding(student) -> None:
    x = np.arange(1 * 4 * 5 * 2, dtype=np.float64).reshape(1, 4, 5, 2) + 1
    args = (x, 2, 2, (1, 2), "same")
    compare(
        "cols for 'same' padding, x (1, 4, 5, 2), kernel 2x2, strides (1, 2)",
        reference_im2col(*args),
        student.call("im2col", *args),
        _mistakes(*args)
        + [
            (
                lambda: reference_im2col(np.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0))), 2, 2, (1, 2))[
                    : reference_im2col(*args).shape[0]
                ],
                "the extra padding row/column goes at the bottom/right (Keras), not the top/left",
            )
        ],
    )


QUESTIONS = (
    Question(
        "rows",
        "x has shape (2, 5, 4, 3); the kernel is 3 x 2, stride 1, 'valid'. How many rows has cols?",
        18,
        "OH = 5 - 3 + 1 = 3 and OW = 4 - 2 + 1 = 3: one row per (n, i, j), 2 * 3 * 3 = 18",
    ),
    Question(
        "row_of_window",
        "In the worked example (3 x 4 image, 2 x 2 kernel, OW = 3), which row of cols holds the "
        "window of output pixel (i, j) = (1, 2)?",
        5,
        "rows run over (n, i, j) with j fastest: (n*OH + i)*OW + j = (0*2 + 1)*3 + 2 = 5",
    ),
    Question(
        "column_of_pqc",
        "With KW = 2 and C = 3, which column of cols holds x_pad[n, SH*i + 1, SW*j + 0, 2] "
        "(p = 1, q = 0, c = 2)?",
        8,
        "columns run over (p, q, c) with c fastest: (p*KW + q)*C + c = (1*2 + 0)*3 + 2 = 8",
    ),
)

HINTS = HintLadder(
    shapes="cols is (N*OH*OW, KH*KW*C): one row per output pixel (n, i, j), one column per "
    "kernel entry (p, q, c). Start from an array (N, OH, OW, KH, KW, C) and reshape it at the "
    "end; nothing is summed.",
    path="For a fixed kernel offset (p, q), the pixels every window sees at that offset form a "
    "strided slice of x_pad: rows p, p + SH, ..., columns q, q + SW, .... Fill cols[:, :, :, p, "
    "q, :] with that slice, for each of the KH*KW offsets (hint-im2col.png: one window and its "
    "row).",
    formula="cols6[:, :, :, p, q, :] = x_pad[:, p : p + SH*OH : SH, q : q + SW*OW : SW, :] for "
    "p < KH, q < KW, with cols6 = np.empty((N, OH, OW, KH, KW, C), x.dtype); then "
    "cols6.reshape(N*OH*OW, KH*KW*C).",
    picture=plotted("plot_im2col", np.arange(12.0).reshape(3, 4), kernel_size=2, position=(0, 1)),
)


EXERCISE = Exercise(
    name="im2col",
    topic="convolution as a matrix multiply: windows to rows",
    functions=("im2col",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn configurations", check_reference),
        Check(
            "edge case: 'same' padding puts the extra row and column at the bottom/right",
            check_same_padding,
        ),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
