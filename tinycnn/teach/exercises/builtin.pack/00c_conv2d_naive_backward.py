"""Exercise conv2d_naive_backward: derive a convolution's gradients, and write them with loops.

CS231n's ``conv_backward_naive``: only the forward pass is given; the backward pass comes from
the chain rule, one output at a time. The forward pass (``conv2d_naive_forward``)::

    out[n,i,j,f] = b[f] + Σ_p Σ_q Σ_c x_pad[n, SH*i + p, SW*j + q, c] * w[p,q,c,f]

Shapes::

    dout  (N, OH, OW, F)               ∂loss/∂out
    x     (N, H, W, C)                 the forward input; x_pad = pad_input(x, KH, KW, S, padding)
    w     (KH, KW, C, F)
    dx    (N, H, W, C)     dw (KH, KW, C, F)     db (F,)      each in the dtype of x

**Derive** ``dx``, ``dw`` and ``db``. Fix one output ``out[n,i,j,f]``: which entries of ``w``,
``b`` and ``x_pad`` does it use, and with what factor? Each of them receives ``dout[n,i,j,f]``
times that factor, and an entry used by several outputs receives the sum over all of them. Loop
over n, i, j (and f, if you like); work in ``dx_pad`` (the padded shape) and drop the padding at
the end.

Worked number: x = 0..8 as a 3 x 3 image, w = [[0, 1], [2, 3]], b = 0: out = [[19, 25],
[37, 43]]. With dout = [[1, 0], [0, 0]] only out[0, 0] matters: work out dw, db and dx by hand.

``tinycnn exercises hint conv2d_naive_backward DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check conv2d_naive_backward DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_amounts, pad_input


def conv2d_backward_naive(dout, x, w, S=(1, 1), padding="valid"):
    """Gradients of ``conv2d_forward_naive(x, w, b, S, padding)``, with loops.

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, F)
    x : ndarray, shape (N, H, W, C)
    w : ndarray, shape (KH, KW, C, F)
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    dx : ndarray, shape (N, H, W, C), dtype of x
    dw : ndarray, shape (KH, KW, C, F), dtype of x
    db : ndarray, shape (F,), dtype of x
    """
    ### BEGIN SOLUTION
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    SH, SW = S
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    (top, _), (left, _) = pad_amounts(x.shape, KH, KW, S, padding)
    x_pad = pad_input(x, KH, KW, S, padding)  # (N, H + pads, W + pads, C)
    dx_pad = np.zeros(x_pad.shape, dtype=x.dtype)
    dw = np.zeros(w.shape, dtype=x.dtype)
    db = np.zeros(F, dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                rows, cols = slice(SH * i, SH * i + KH), slice(SW * j, SW * j + KW)
                for f in range(F):
                    g = dout[n, i, j, f]
                    db[f] += g
                    dw[:, :, :, f] += g * x_pad[n, rows, cols, :]
                    dx_pad[n, rows, cols, :] += g * w[:, :, :, f]  # windows overlap: add
    return dx_pad[:, top : top + H, left : left + W, :], dw, db
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import Exercise, HintLadder, Question, plotted, sibling  # noqa: E402

reference = sibling("reference")
backward_checks = sibling("conv_checks").backward_checks


QUESTIONS = (
    Question(
        "windows_at_1_1",
        "x is 3 x 3, w is 2 x 2, stride 1, 'valid': from how many outputs does dx[0, 1, 1, 0] "
        "collect a term?",
        4,
        "all 2 x 2 = 4 windows contain the centre pixel, so dx there sums four dout terms",
    ),
    Question(
        "worked_dw_00",
        "In the worked number (x = 0..8, dout = [[1, 0], [0, 0]]), what is dw[1, 1, 0, 0]?",
        4,
        "only out[0, 0] has a gradient; it used w[1, 1] times x[1, 1] = 4, so dw[1, 1] = 1 * 4",
    ),
    Question(
        "dw_axes",
        "dw[p, q, c, f] sums over which indices?",
        "b",
        "w[p, q, c, f] multiplies one input in EVERY window of every image: its gradient sums "
        "over n, i and j",
        choices=("n only", "n, i and j", "p, q and c", "f"),
    ),
)

HINTS = HintLadder(
    shapes="dx_pad (N, H + pads, W + pads, C), dw (KH, KW, C, F) and db (F,) start as zeros. For "
    "one (n, i, j, f): the window x_pad[n, SH*i : SH*i + KH, SW*j : SW*j + KW, :] and the filter "
    "w[:, :, :, f] are both (KH, KW, C); dout[n, i, j, f] is one number.",
    path="out[n, i, j, f] = b[f] + Σ window * filter. Its derivative by b[f] is 1, by each filter "
    "entry the window entry it multiplies, by each window entry the filter entry. Multiply each "
    "by dout[n, i, j, f] and ADD into db, dw[..., f] and the window of dx_pad: windows overlap "
    "(hint-conv2d_naive_backward.png: neighbouring positions of one kernel share pixels).",
    formula="db[f] += g; dw[:, :, :, f] += g * x_pad[n, rows, cols, :]; dx_pad[n, rows, cols, :] "
    "+= g * w[:, :, :, f] with g = dout[n, i, j, f]; return dx_pad[:, top : top + H, left : left "
    "+ W, :], dw, db.",
    picture=plotted(
        "plot_sliding_kernel", np.arange(16.0).reshape(4, 4), np.ones((3, 3)), 1, 0, frame=1
    ),
)

EXERCISE = Exercise(
    name="conv2d_naive_backward",
    topic="Conv2D backward derived with the chain rule, with loops (naive first)",
    functions=("conv2d_backward_naive",),
    checks=backward_checks(
        "conv2d_backward_naive", reference.conv2d_forward, reference.conv2d_backward
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
