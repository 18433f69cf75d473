"""Exercise dense_backward: derive the gradients of a fully connected layer.

``dense_forward`` is given; derive and write its backward pass. Shapes::

    x    (N, D)        a batch of N vectors of D features
    w    (D, U)        kernel (Keras's shape), U = units
    b    (U,)          bias
    out  (N, U)        out[n, u] = b[u] + Σ_d x[n, d] * w[d, u]     (out = x @ w + b)
    dout (N, U)        ∂loss/∂out

**Derive** ``dx``, ``dw`` and ``db`` by the chain rule: write ∂loss/∂w[d, u] as a sum over the
outputs that ``w[d, u]`` touches, then recognise the sum as a matrix product. Each gradient has
the shape and dtype of what it differentiates: ``dx`` (N, D) like x, ``dw`` (D, U) like w,
``db`` (U,) like b (float32 in, float32 out). The loss is a batch mean: decide whether its
``1/N`` is already inside ``dout``.

Worked number: x = [[1, 2]], w = [[1], [1]], b = [0]: out = [[3]]. With dout = [[3]], derive
dx, dw and db by hand before you write code.

``tinycnn exercises hint dense_backward DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check dense_backward DIR``.
"""

from __future__ import annotations


def dense_forward(x, w, b):
    """``x @ w + b``: x (N, D), w (D, U), b (U,) -> out (N, U). Given, not graded."""
    return x @ w + b


def dense_backward(dout, x, w):
    """Gradients of ``dense_forward(x, w, b)``.

    Parameters
    ----------
    dout : ndarray, shape (N, U)
    x : ndarray, shape (N, D)
    w : ndarray, shape (D, U)

    Returns
    -------
    dx : ndarray, shape (N, D), dtype of x
    dw : ndarray, shape (D, U), dtype of w
    db : ndarray, shape (U,), dtype of dout
    """
    ### BEGIN SOLUTION
    dx = dout @ w.T  # (N, D)
    dw = x.T @ dout  # (D, U)
    db = dout.sum(axis=0)  # (U,)
    return dx, dw, db
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
import numpy as np  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_array,
    expect_tuple,
    gradients_match,
)

DX_DW_DB = ("dx", "dw", "db")


def _check(student, dout, x, w, prefix=""):
    got = expect_tuple(student.call("dense_backward", dout, x, w), "dense_backward", DX_DW_DB)
    N = len(x)
    db = dout.sum(axis=0)
    compare(
        prefix + "dx",
        dout @ w.T,
        got[0],
        [
            (lambda: dout @ w.T / N, "dx has no 1/N: it is already inside dout"),
        ],
    )
    compare(
        prefix + "dw",
        x.T @ dout,
        got[1],
        [
            (
                lambda: x.T @ dout / N,
                "dw is a plain sum over the batch: the 1/N is already in dout",
            ),
        ],
    )
    compare(
        prefix + "db",
        db,
        got[2],
        [
            (lambda: db / N, "db not summed: db = Σ_n dout[n], a sum, not a mean"),
            (
                lambda: dout[0],
                "db not summed: add the rows of dout over the batch, db = Σ_n dout[n]",
            ),
            (lambda: dout.sum(axis=1), "db sums over the batch axis 0, giving shape (U,)"),
        ],
    )


def check_shapes(student) -> None:
    x, w = np.ones((4, 3), dtype=np.float32), np.ones((3, 2), dtype=np.float32)
    got = student.call("dense_backward", np.ones((4, 2), dtype=np.float32), x, w)
    got = expect_tuple(got, "dense_backward", DX_DW_DB)
    for name, value, shape in zip(DX_DW_DB, got, ((4, 3), (3, 2), (2,)), strict=True):
        expect_array(value, name, shape, where="x (4, 3), w (3, 2)")


def check_worked_example(student) -> None:
    _check(student, np.array([[3.0]]), np.array([[1.0, 2.0]]), np.ones((2, 1)), "worked example: ")


@st.composite
def _cases(draw):
    N, D, U = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    return rng.standard_normal((N, U)), rng.standard_normal((N, D)), rng.standard_normal((D, U))


def check_reference(student) -> None:
    against_reference(
        _cases(),
        lambda case: _check(student, *case),
        describe=lambda c: f"N, D, U = {c[1].shape + c[2].shape[1:]}",
    )


def check_gradients(student) -> None:
    rng = np.random.default_rng(2)
    gradients_match(
        lambda x, w, b: x @ w + b,
        lambda dout, x, w, b: student.call("dense_backward", dout, x, w),
        {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)},
        rng.standard_normal((3, 4)),
        "x (3, 4), w (4, 3)",
    )


QUESTIONS = (
    Question(
        "dw_size",
        "x (32, 1600), w (1600, 128): how many numbers does dw hold?",
        204800,
        "dw has w's shape, 1600 * 128 = 204,800, whatever the batch size",
    ),
    Question(
        "db_axis",
        "db sums dout (N, U) over which axis?",
        "a",
        "b[u] is added to row n of out for every n, so its gradient sums the batch axis 0",
        choices=("axis 0, the batch", "axis 1, the units", "no axis: db = dout"),
    ),
)

HINTS = HintLadder(
    shapes="dx (N, D) like x, dw (D, U) like w, db (U,) like b. The N axis disappears from dw "
    "and db: it is summed over. Match the shapes and the transposes follow.",
    path="out[n, u] = Σ_d x[n, d] w[d, u] + b[u]. dL/dx[n, d] collects dout[n, u] * w[d, u] over "
    "u; dL/dw[d, u] collects dout[n, u] * x[n, d] over n; dL/db[u] collects dout[n, u] over n.",
    formula="dx = dout @ w.T; dw = x.T @ dout; db = dout.sum(axis=0).",
)


EXERCISE = Exercise(
    name="dense_backward",
    topic="Dense backward: dx, dw, db",
    functions=("dense_backward",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn shapes", check_reference),
        Check("gradient check (float64 central differences)", check_gradients),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
