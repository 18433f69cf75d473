"""Exercise maxpool_forward: the maximum of each pooling window, channel by channel.

Shapes::

    x     (N, H, W, C)
    x_pad (N, H + pads, W + pads, C)   pad_input(x, KH, KW, S, padding, value=-np.inf)
    out   (N, OH, OW, C)               OH, OW = output_hw(x.shape, KH, KW, S, padding)

The math::

    out[n,i,j,c] = max_pq x_pad[n, SH*i + p, SW*j + q, c]

"same" padding pads with **-inf** (not 0): padding must never win a window, or a window of
negative numbers would return 0.

Worked example: a 2 x 4 image, 2 x 2 windows, stride 2::

    x = 1 5 2 0        out = 6 3
        6 2 3 1

Check your answer: ``tinycnn exercises check maxpool_forward DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_input


def maxpool_forward(x, KH, KW, S=(2, 2), padding="valid"):
    """Max over every KH x KW window.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    KH, KW : int
        Window height and width.
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, OH, OW, C), same dtype as ``x``
    """
    ### BEGIN SOLUTION
    SH, SW = S
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    x_pad = pad_input(x, KH, KW, S, padding, value=-np.inf)  # (N, H + pads, W + pads, C)
    out = np.full((x.shape[0], OH, OW, x.shape[3]), -np.inf, dtype=x.dtype)
    for p in range(KH):
        for q in range(KW):
            window = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]  # (N, OH, OW, C)
            out = np.maximum(out, window)
    return out
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_array,
    plotted,
    sibling,
)
from tinycnn.testing.strategies import PoolConfig, pool_configs  # noqa: E402

reference = sibling("reference")


def _mistakes(x, KH, KW, S, padding):
    zero_padded = pad_input(x, KH, KW, S, padding)  # zeros
    return [
        (
            lambda: reference.maxpool_forward(zero_padded, KH, KW, S, "valid"),
            "'same' padding must pad with -inf, not 0: a window of negative numbers then returns 0",
        ),
        (
            lambda: reference.maxpool_forward(x, KH, KW, (1, 1), padding)[:, :: S[0], :: S[1]],
            "the stride is misapplied: window (i, j) starts at row SH*i and column SW*j",
        ),
    ]


def _check(student, what, x, KH, KW, S, padding):
    args = (x, KH, KW, S, padding)
    compare(
        what,
        reference.maxpool_forward(*args),
        student.call("maxpool_forward", *args),
        _mistakes(*args),
    )


def check_shapes(student) -> None:
    x = np.ones((2, 7, 5, 3), dtype=np.float32)
    out = student.call("maxpool_forward", x, 2, 2, (2, 2), "valid")
    where = "x float32 (2, 7, 5, 3), 2x2 windows, stride 2, 'valid'"
    expect_array(out, "out (N, OH, OW, C)", (2, 3, 2, 3), np.float32, where)


def check_worked_example(student) -> None:
    x = np.array([[1.0, 5, 2, 0], [6, 2, 3, 1]]).reshape(1, 2, 4, 1)
    _check(student, "out of the worked example (6 3)", x, 2, 2, (2, 2), "valid")


def check_reference(student) -> None:
    def case(config: PoolConfig):
        _check(
            student, "out", config.x(), config.KH, config.KW, (config.SH, config.SW), config.padding
        )

    against_reference(pool_configs(), case)


def check_negative_same(student) -> None:
    x = -1.0 - np.arange(15.0).reshape(1, 3, 5, 1)
    _check(
        student,
        "out for all-negative x (1, 3, 5, 1), 2x2 windows, stride 2, 'same'",
        x,
        2,
        2,
        (2, 2),
        "same",
    )


QUESTIONS = (
    Question(
        "out_width",
        "x (2, 7, 5, 3), 2 x 2 windows, stride 2, 'valid': what is OW?",
        2,
        "OW = floor((5 - 2) / 2) + 1 = 2: the last column is never inside a window",
    ),
    Question(
        "pad_value",
        "Why does 'same' padding for max pooling pad with -inf?",
        "b",
        "a padded 0 would be the maximum of a window of negative numbers; -inf never wins",
        choices=(
            "it is faster than padding with 0",
            "a window of negative numbers would otherwise return 0",
            "Keras pads convolutions with -inf too",
        ),
    ),
)

HINTS = HintLadder(
    shapes="out is (N, OH, OW, C); the max runs over the KH*KW offsets of each window, channel by "
    "channel, never across channels.",
    path="For each offset (p, q) the values every window sees there form a strided slice of x_pad "
    "shaped like out; the running maximum over the KH*KW slices is the answer "
    "(hint-maxpool_forward.png).",
    formula="out = max over p, q of x_pad[:, p : p + SH*OH : SH, q : q + SW*OW : SW, :] with "
    "x_pad = pad_input(x, KH, KW, S, padding, value=-np.inf), e.g. np.maximum in a loop.",
    picture=plotted("plot_maxpool"),
)


EXERCISE = Exercise(
    name="maxpool_forward",
    topic="MaxPool2D forward: the maximum of each window",
    functions=("maxpool_forward",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn configurations", check_reference),
        Check("edge case: 'same' padding of negative inputs (pad with -inf)", check_negative_same),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
