"""Exercise relu: the rectified linear unit and its gradient.

Shapes: ``x``, ``out``, ``dout`` and ``dx`` all have the same shape (any shape, e.g.
(N, H, W, C) or (N, D)). The math::

    out = max(x, 0)
    dx  = dout * (x > 0)

At ``x == 0`` ReLU has a kink; use the subgradient 0 there (``x > 0``, not ``x >= 0``), as
TensorFlow does.

Worked example: x = [-2, 0, 3], dout = [1, 1, 1]: out = [0, 0, 3], dx = [0, 0, 1].

Check your answer: ``tinycnn exercises check relu DIR``.
"""

from __future__ import annotations

import numpy as np


def relu_forward(x):
    """``max(x, 0)`` elementwise.

    Parameters
    ----------
    x : ndarray, shape (N, ...)

    Returns
    -------
    out : ndarray, shape (N, ...), same dtype as ``x``
    """
    ### BEGIN SOLUTION
    return np.maximum(x, 0)
    ### END SOLUTION


def relu_backward(dout, x):
    """The gradient through ReLU.

    Parameters
    ----------
    dout : ndarray, shape (N, ...)
        ∂loss/∂out.
    x : ndarray, shape (N, ...)
        The forward input.

    Returns
    -------
    dx : ndarray, shape (N, ...)
    """
    ### BEGIN SOLUTION
    return dout * (x > 0)
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from hypothesis import strategies as st  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_array,
)
from tinycnn.testing.strategies import images  # noqa: E402


def _backward_mistakes(dout, x):
    return [
        (lambda: dout * (x >= 0), "at x == 0 use the subgradient 0: mask with x > 0, not x >= 0"),
        (
            lambda: np.maximum(dout, 0),
            "dx = dout * (x > 0): the mask comes from the forward "
            "input x, not from the sign of dout",
        ),
        (
            lambda: dout * np.maximum(x, 0),
            "dx multiplies dout by the 0/1 mask (x > 0), not by relu(x)",
        ),
    ]


def _check_both(student, x, dout, prefix=""):
    compare(
        prefix + "relu_forward(x)",
        np.maximum(x, 0),
        student.call("relu_forward", x),
        [(lambda: np.abs(x), "negative inputs become 0, not their absolute value")],
    )
    compare(
        prefix + "relu_backward(dout, x)",
        dout * (x > 0),
        student.call("relu_backward", dout, x),
        _backward_mistakes(dout, x),
    )


def check_shapes(student) -> None:
    x = np.linspace(-1, 1, 2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    where = f"float32 x of shape {x.shape}"
    expect_array(student.call("relu_forward", x), "relu_forward(x)", x.shape, x.dtype, where)
    dx = student.call("relu_backward", x, x)
    expect_array(dx, "relu_backward(x, x)", x.shape, x.dtype, where)


def check_worked_example(student) -> None:
    _check_both(student, np.array([[-2.0, 0.0, 3.0]]), np.ones((1, 3)), "worked example: ")


def check_reference(student) -> None:
    def case(drawn):
        x, seed = drawn
        _check_both(student, x, np.random.default_rng(seed).standard_normal(x.shape))

    against_reference(st.tuples(images(ties=True), st.integers(0, 2**32 - 1)), case)


QUESTIONS = (
    Question(
        "sum_dx",
        "x = [-2, 0, 3] and dout = [5, 5, 5]: what is the sum of dx?",
        5,
        "only x = 3 is positive; x = 0 takes the subgradient 0, so dx = [0, 0, 5]",
    ),
    Question(
        "dead_unit",
        "A ReLU unit whose input is negative for every training example",
        "a",
        "its local gradient is 0 for every example, so nothing upstream of it learns from it: a "
        "dead unit",
        choices=(
            "gets no gradient and stops learning (a 'dead' unit)",
            "gets a gradient of -1 and recovers",
            "behaves like the identity",
        ),
    ),
)

HINTS = HintLadder(
    shapes="out, dout and dx all have x's shape and dtype; nothing is summed.",
    path="out = x where x > 0 and 0 elsewhere: the local derivative is 1 where x > 0 and 0 where "
    "x < 0 (take 0 at the kink x = 0). Multiply dout by it.",
    formula="out = np.maximum(x, 0); dx = dout * (x > 0).",
)


EXERCISE = Exercise(
    name="relu",
    topic="ReLU forward and backward (the kink at 0)",
    functions=("relu_forward", "relu_backward"),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example (x = 0 included)", check_worked_example),
        Check("matches the reference on drawn inputs (with zeros)", check_reference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
