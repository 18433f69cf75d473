"""Exercise conv2d_backward: derive the gradients of a convolution with respect to x, w and b.

The forward pass (``conv2d_forward``), with ``x_pad`` the padded input::

    out[n,i,j,f] = b[f] + Σ_pqc x_pad[n, SH*i+p, SW*j+q, c] * w[p,q,c,f]

or, in the 2-D form that runs::

    cols  = im2col(x, KH, KW, S, padding)         (N*OH*OW, KH*KW*C)
    w2d   = w.reshape(KH*KW*C, F)                 (KH*KW*C, F)
    out2d = cols @ w2d + b                        (N*OH*OW, F)
    out   = out2d.reshape(N, OH, OW, F)

Given ``dout`` = ∂loss/∂out (N, OH, OW, F), **derive** ``dx``, ``dw`` and ``db`` from
``out2d = cols @ w2d + b`` by the chain rule, then write them with NumPy and the two kernels
imported below. Each gradient has the shape (and the dtype) of what it differentiates:
``dx`` (N, H, W, C), ``dw`` (KH, KW, C, F), ``db`` (F,); float64 inputs give float64 gradients,
float32 give float32. Ask, for each entry of w (and of b, and of x): which outputs does it
touch, and with what factor?

Worked number: x = ones (1, 2, 2, 1), w = [[[[2]]]] (a 1 x 1 kernel), b = [0], stride 1:
out = [[2, 2], [2, 2]]. With dout = [[1, 2], [3, 4]], derive dw, db and dx by hand first.

``tinycnn exercises hint conv2d_backward DIR`` opens hints one level at a time (shapes, the
chain-rule path, the formula).

Check your answer: ``tinycnn exercises check conv2d_backward DIR``.
"""

from __future__ import annotations

from tinycnn.kernels.im2col import col2im, im2col


def conv2d_backward(dout, x, w, S=(1, 1), padding="valid"):
    """Gradients of ``conv2d_forward(x, w, b, S, padding)``.

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
    dw : ndarray, shape (KH, KW, C, F), dtype of w
    db : ndarray, shape (F,), dtype of dout
    """
    ### BEGIN SOLUTION
    KH, KW, C, F = w.shape
    cols = im2col(x, KH, KW, S, padding)  # (N*OH*OW, KH*KW*C)
    dout2d = dout.reshape(-1, F)  # (N*OH*OW, F)
    dw = (cols.T @ dout2d).reshape(KH, KW, C, F)
    db = dout2d.sum(axis=0)
    dx = col2im(dout2d @ w.reshape(-1, F).T, x.shape, KH, KW, S, padding)
    return dx, dw, db
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import Exercise, HintLadder, Question, plotted, sibling  # noqa: E402

reference = sibling("reference")
backward_checks = sibling("conv_checks").backward_checks


QUESTIONS = (
    Question(
        "db_axes",
        "db[f] sums dout over which axes of dout (N, OH, OW, F)?",
        "c",
        "b[f] is added to every output of filter f, for every image n and position (i, j), so "
        "its gradient collects all of them",
        choices=("n only", "i and j only", "n, i and j", "none: db = dout"),
    ),
    Question(
        "no_one_over_n",
        "The loss is a batch mean. Where does its 1/N belong?",
        "a",
        "dlogits = (p - Y) / N already carries it, and every gradient downstream inherits it; "
        "dividing again makes dw N times too small",
        choices=(
            "already inside dout; dw and db are plain sums",
            "dw and db must be divided by N",
            "only db must be divided by N",
        ),
    ),
    Question(
        "worked_dw",
        "x = ones (1, 2, 2, 1), w = ones (1, 1, 1, 1), dout = [[1, 2], [3, 4]]: what is dw?",
        10,
        "out[i, j] = w * x[i, j], so dL/dw = Σ_ij dout[i, j] * x[i, j] = 1 + 2 + 3 + 4",
    ),
)

HINTS = HintLadder(
    shapes="dx (N, H, W, C), dw (KH, KW, C, F), db (F,): each gradient has the shape of what it "
    "differentiates. In the 2-D form out2d = cols @ w2d + b: dcols (N*OH*OW, KH*KW*C), dw2d "
    "(KH*KW*C, F). db and dw sum over the N*OH*OW rows; no 1/N.",
    path="Chain rule through out2d = cols @ w2d + b: each row of out2d is one window times w2d. "
    "Ask which products dw2d[k, f] appears in (every row, with cols[r, k]) and which entries of "
    "cols feed out2d[r, f]. dcols goes back to the image through the adjoint of im2col, which "
    "adds overlapping windows (hint-conv2d_backward.png: values forward, gradients backward, "
    "every shape).",
    formula="dout2d = dout.reshape(-1, F); dw = (cols.T @ dout2d).reshape(KH, KW, C, F); db = "
    "dout2d.sum(axis=0); dx = col2im(dout2d @ w2d.T, x.shape, KH, KW, S, padding).",
    picture=plotted("plot_backward_flow"),
)


EXERCISE = Exercise(
    name="conv2d_backward",
    topic="Conv2D backward: dx with col2im, dw, db",
    functions=("conv2d_backward",),
    checks=backward_checks("conv2d_backward", reference.conv2d_forward, reference.conv2d_backward),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
