"""Exercise conv2d_forward: a convolution (Keras's cross-correlation) as im2col + one matmul.

Shapes::

    x    (N, H, W, C)          input images (NHWC)
    w    (KH, KW, C, F)        kernel (HWIO, as Keras stores it)
    b    (F,)                  bias
    cols (N*OH*OW, KH*KW*C)    im2col(x, KH, KW, S, padding)
    w2d  (KH*KW*C, F)          w.reshape(KH*KW*C, F): rows in the same (p, q, c) order as cols
    out  (N, OH, OW, F)

The math, with ``x_pad`` the padded input::

    out[n,i,j,f] = b[f] + Σ_pqc x_pad[n, SH*i+p, SW*j+q, c] * w[p,q,c,f]
    out = (cols @ w2d + b).reshape(N, OH, OW, F)

The kernel is *not* flipped (deep-learning "convolution" is cross-correlation).

Worked example (d2l): x = 0..8 as a 3 x 3 image, w = [[0, 1], [2, 3]], b = 0::

    out[0,0] = 0*0 + 1*1 + 3*2 + 4*3 = 19        out = 19 25
                                                       37 43

Check your answer: ``tinycnn exercises check conv2d_forward DIR``.
"""

from __future__ import annotations

from tinycnn.kernels.geometry import output_hw
from tinycnn.kernels.im2col import im2col


def conv2d_forward(x, w, b, S=(1, 1), padding="valid"):
    """Convolve ``x`` with ``w`` and add ``b``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    w : ndarray, shape (KH, KW, C, F)
    b : ndarray, shape (F,)
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    out : ndarray, shape (N, OH, OW, F), with ``OH, OW = output_hw(x.shape, KH, KW, S, padding)``
    """
    ### BEGIN SOLUTION
    KH, KW, C, F = w.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    cols = im2col(x, KH, KW, S, padding)  # (N*OH*OW, KH*KW*C)
    out = cols @ w.reshape(KH * KW * C, F) + b  # (N*OH*OW, F)
    return out.reshape(x.shape[0], OH, OW, F)
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import Exercise, HintLadder, Question, sibling  # noqa: E402

reference = sibling("reference")
forward_checks = sibling("conv_checks").forward_checks


QUESTIONS = (
    Question(
        "parameters",
        "Conv2D(32, 3) on 28 x 28 x 1 images: how many parameters (weights and biases)?",
        320,
        "w is (KH, KW, C, F) = (3, 3, 1, 32), 288 weights, plus one bias per filter: 288 + 32",
    ),
    Question(
        "multiply_adds",
        "x (1, 28, 28, 1), w (3, 3, 1, 32), stride 1, 'valid': how many multiply-adds does "
        "cols @ w2d take?",
        194688,
        "cols is (26*26, 9) and w2d (9, 32): 676 rows * 9 * 32 = 194,688",
    ),
    Question(
        "flip",
        "Keras's Conv2D, and this exercise, compute",
        "b",
        "deep-learning 'convolution' is cross-correlation: w[p, q] multiplies x_pad[SH*i + p, "
        "SW*j + q] with no flip",
        choices=(
            "a convolution with the kernel flipped",
            "a cross-correlation (the kernel is not flipped)",
            "either, depending on the padding",
        ),
    ),
)

HINTS = HintLadder(
    shapes="cols (N*OH*OW, KH*KW*C) @ w2d (KH*KW*C, F) is (N*OH*OW, F); b (F,) broadcasts over "
    "rows; reshape to (N, OH, OW, F). The sum over p, q, c happens inside the matrix multiply.",
    path="Each row of cols is one window; each column of w2d is one filter with its entries in "
    "the same (p, q, c) order; their dot product is one output value. So im2col, one matmul, "
    "add the bias, reshape.",
    formula="out = (im2col(x, KH, KW, S, padding) @ w.reshape(KH*KW*C, F) + b).reshape(N, OH, OW, "
    "F)",
)


EXERCISE = Exercise(
    name="conv2d_forward",
    topic="Conv2D forward: im2col, one matrix multiply, the bias",
    functions=("conv2d_forward",),
    checks=forward_checks("conv2d_forward", reference.conv2d_forward),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
