"""Exercise leaky_relu: ReLU with a small slope for negative inputs.

Forward and backward, elementwise, for any shape::

    out = x             where x > 0
    out = alpha * x     elsewhere (x = 0 included)
    dx  = dout          where x > 0
    dx  = alpha * dout  elsewhere

Worked example: alpha = 0.1, x = [-2, 0, 3] gives out = [-0.2, 0, 3].

Check your answer: ``tinycnn exercises check leaky_relu DIR --exercises PACK``.
"""

from __future__ import annotations

import numpy as np


def leaky_relu_forward(x, alpha):
    """``x`` where positive, ``alpha * x`` elsewhere.

    Parameters
    ----------
    x : ndarray, any shape
    alpha : float
        The slope for x <= 0.

    Returns
    -------
    out : ndarray, shape of x
    """
    ### BEGIN SOLUTION
    return np.where(x > 0, x, alpha * x)
    ### END SOLUTION


def leaky_relu_backward(dout, x, alpha):
    """The gradient through ``leaky_relu_forward``.

    Parameters
    ----------
    dout : ndarray, shape of x
    x : ndarray
        The forward pass's input.
    alpha : float

    Returns
    -------
    dx : ndarray, shape of x
    """
    ### BEGIN SOLUTION
    return dout * np.where(x > 0, 1.0, alpha)
    ### END SOLUTION


### BEGIN HIDDEN TESTS
# Everything below is the teacher's: deleted from the student's file and from --solution.
# Only the public authoring API is used (tinycnn.teach.exercises.grading).
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    against_reference,
    compare,
)


def _forward(x, alpha):
    return np.where(x > 0, x, alpha * x)


def _backward(dout, x, alpha):
    return dout * np.where(x > 0, 1.0, alpha)


def check_worked_example(student) -> None:
    x = np.array([-2.0, 0.0, 3.0])
    compare(
        "leaky_relu_forward([-2, 0, 3], alpha=0.1)",
        _forward(x, 0.1),
        student.call("leaky_relu_forward", x, 0.1),
        [(lambda: np.maximum(x, 0), "negative inputs keep the slope alpha: alpha * x, not 0")],
    )


def _drawn():
    shapes = hnp.array_shapes(max_dims=3, max_side=4)
    values = st.floats(-10, 10, allow_nan=False)
    return st.tuples(hnp.arrays(np.float64, shapes, elements=values), st.sampled_from([0.01, 0.3]))


def check_forward(student) -> None:
    def case(drawn):
        x, alpha = drawn
        compare("out", _forward(x, alpha), student.call("leaky_relu_forward", x, alpha))

    against_reference(_drawn(), case, describe=lambda d: f"x {d[0].shape}, alpha {d[1]}")


def check_backward(student) -> None:
    x = np.array([[-1.5, 0.0, 2.0], [3.0, -0.5, 0.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = student.call("leaky_relu_backward", dout, x, 0.1)
    positive = np.asarray(got)[x > 0] if np.shape(got) == x.shape else None
    try:
        compare("dx", _backward(dout, x, 0.1), got)
    except CheckError as failure:
        if positive is not None and np.allclose(positive, dout[x > 0]):
            # half the points: right where x > 0, wrong elsewhere
            raise CheckError(failure.message, "where x <= 0, dx = alpha * dout", 0.5) from None
        raise


EXERCISE = Exercise(
    name="leaky_relu",
    topic="a teacher's own exercise: leaky ReLU forward and backward",
    functions=("leaky_relu_forward", "leaky_relu_backward"),
    checks=(
        Check("worked example", check_worked_example, points=1),
        Check("forward matches on drawn inputs", check_forward, points=2),
        Check("backward (half the points if right where x > 0)", check_backward, points=2),
    ),
    timeout=10.0,
)
### END HIDDEN TESTS
