"""Exercise conv2d_naive_forward: a convolution by its definition, with loops.

Naive first, then vectorised (CS231n's ``conv_forward_naive``): write the convolution straight
from its definition, one output value at a time. Later exercises make it fast (``im2col``,
``conv2d_forward``) and the grader compares them with this one's numbers.

Shapes::

    x     (N, H, W, C)               input images (NHWC)
    w     (KH, KW, C, F)             F filters of KH x KW x C (Keras's layout)
    b     (F,)                       one bias per filter
    x_pad (N, H + pads, W + pads, C) ``pad_input(x, KH, KW, S, padding)`` (given below)
    out   (N, OH, OW, F)             ``OH, OW = output_hw(x.shape, KH, KW, S, padding)``

The definition (Keras's Conv2D is a cross-correlation: the kernel is NOT flipped)::

    out[n,i,j,f] = b[f] + Σ_p Σ_q Σ_c x_pad[n, SH*i + p, SW*j + q, c] * w[p,q,c,f]

Loop over n, i, j and f; the sum over the window may be one NumPy expression. ``out`` has the
dtype of ``x`` (float32 in, float32 out).

Worked example (d2l): x = 0..8 as a 3 x 3 image, w = [[0, 1], [2, 3]], b = 0, stride 1::

    out[0,0] = 0*0 + 1*1 + 3*2 + 4*3 = 19        out = 19 25
                                                       37 43

``tinycnn exercises hint conv2d_naive_forward DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check conv2d_naive_forward DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_input


def conv2d_forward_naive(x, w, b, S=(1, 1), padding="valid"):
    """Convolve ``x`` with ``w`` and add ``b``, one output at a time.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    w : ndarray, shape (KH, KW, C, F)
    b : ndarray, shape (F,)
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, OH, OW, F), dtype of x
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    KH, KW, C, F = w.shape
    SH, SW = S
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    x_pad = pad_input(x, KH, KW, S, padding)  # (N, H + pads, W + pads, C)
    out = np.zeros((N, OH, OW, F), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                window = x_pad[n, SH * i : SH * i + KH, SW * j : SW * j + KW, :]  # (KH, KW, C)
                for f in range(F):
                    out[n, i, j, f] = np.sum(window * w[:, :, :, f]) + b[f]
    return out
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import Exercise, HintLadder, Question, plotted, sibling  # noqa: E402

reference = sibling("reference")
forward_checks = sibling("conv_checks").forward_checks


QUESTIONS = (
    Question(
        "terms_per_output",
        "x (1, 5, 5, 3), w (3, 3, 3, 8): how many products are summed (before the bias) for one "
        "out[n, i, j, f]?",
        27,
        "the window covers KH*KW*C = 3*3*3 inputs, each times its own kernel entry",
    ),
    Question(
        "loop_count",
        "x (2, 6, 6, 1), w (3, 3, 1, 4), stride 1, 'valid': how many times does the innermost "
        "statement (one output value) run?",
        128,
        "once per output: N*OH*OW*F = 2*4*4*4 = 128",
    ),
    Question(
        "cross_correlation",
        "A 1 x 2 kernel w = [1, -1] slides over the row x = [0, 0, 5]. What is the last output?",
        -5,
        "no flip: out[j] = x[j]*w[0] + x[j+1]*w[1], so out[1] = 0*1 + 5*(-1) = -5",
    ),
)

HINTS = HintLadder(
    shapes="out (N, OH, OW, F) starts as zeros of x's dtype. For one (n, i, j), the window "
    "x_pad[n, SH*i : SH*i + KH, SW*j : SW*j + KW, :] is (KH, KW, C), the same shape as one filter "
    "w[:, :, :, f]; their elementwise product is summed over all three axes.",
    path="Four loops (n, i, j, f), or three and a sum over f. The window starts at row SH*i and "
    "column SW*j of the PADDED input (hint-conv2d_naive_forward.png: one output as a sum over "
    "channels plus the bias).",
    formula="out[n, i, j, f] = np.sum(x_pad[n, SH*i : SH*i + KH, SW*j : SW*j + KW, :] * w[:, :, :, "
    "f]) + b[f].",
    picture=plotted("plot_multichannel"),
)

EXERCISE = Exercise(
    name="conv2d_naive_forward",
    topic="Conv2D forward by its definition, with loops (naive first)",
    functions=("conv2d_forward_naive",),
    checks=forward_checks("conv2d_forward_naive", reference.conv2d_forward),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
