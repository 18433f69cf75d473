"""Exercise gradient_check: a central-difference gradient checker of your own.

``numerical_gradient(f, x, eps)`` estimates the gradient of a scalar function ``f()`` with respect
to every element of the array ``x``, which ``f`` reads (``x`` is changed in place for each
evaluation and must be restored)::

    grad[i] = (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps)        error O(eps²)

The one-sided difference ``(f(x + eps*e_i) - f(x)) / eps`` is only O(eps) accurate: too coarse to
tell a right backward from a slightly wrong one.

``relative_error(analytic, numeric)`` compares two gradients as one number::

    max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-12)

A correct backward in float64 gives about 1e-9 or less; a bug gives 1e-3 to 1.

To check a layer's backward with them: choose a random ``dout``, let ``f = Σ forward(x) * dout``
(so that ∂f/∂x = backward(dout)), and compare ``backward(dout)`` with
``numerical_gradient(f, x)``.

Worked example: f = Σ x³ at x = [1, 2]: grad ≈ [3, 12]; relative_error([1], [1.1]) = 0.1 / 2.1.

Check your answer: ``tinycnn exercises check gradient_check DIR``.
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of ``f()`` for every element of ``x``.

    Parameters
    ----------
    f : callable
        ``f()`` returns a float computed from the current values of ``x``.
    x : ndarray, any shape
        Perturbed in place one element at a time, and left as it was.
    eps : float

    Returns
    -------
    grad : ndarray, shape of ``x``, dtype float64
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f()
        x[index] = original - eps
        minus = f()
        x[index] = original  # restore before the next element
        grad[index] = (plus - minus) / (2 * eps)
    return grad
    ### END SOLUTION


def relative_error(analytic, numeric):
    """Largest elementwise ``|a - n| / max(|a| + |n|, 1e-12)``.

    Parameters
    ----------
    analytic, numeric : ndarray, same shape

    Returns
    -------
    error : float
        A Python float (not an array).
    """
    ### BEGIN SOLUTION
    size = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
    return float(np.max(np.abs(analytic - numeric) / size))
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    HintLadder,
    Question,
    compare,
    sibling,
)

reference = sibling("reference")

EPS = 1e-5


def _one_sided(f, x, eps):
    grad, f0 = np.zeros(x.shape), f()
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        grad[index] = (f() - f0) / eps
        x[index] = original
    return grad


def _gradient(student, f, x, what):
    x_before = x.copy()
    got = student.call_shared("numerical_gradient", f, x, EPS)  # f reads this very x
    if not np.array_equal(x, x_before):
        raise CheckError(
            f"{what}: x changed during numerical_gradient",
            "x was not restored: put each element back before moving to the next",
        )
    return got


def check_shapes(student) -> None:
    x = np.ones((2, 3))
    grad = _gradient(student, lambda: float(np.sum(x**2)), x, "f = Σ x², x (2, 3)")
    if np.shape(grad) != x.shape:
        raise CheckError(f"numerical_gradient should return x's shape (2, 3), got {np.shape(grad)}")
    error = student.call("relative_error", np.ones(3), np.ones(3))
    if np.ndim(error) != 0:
        raise CheckError(f"relative_error should return one number, got shape {np.shape(error)}")


def check_worked_example(student) -> None:
    x = np.array([1.0, 2.0])
    f = lambda: float(np.sum(x**3))  # noqa: E731
    compare(
        "numerical_gradient of f = Σ x³ at x = [1, 2]",
        [3.0, 12.0],
        _gradient(student, f, x, "f = Σ x³"),
        [
            (
                lambda: _one_sided(f, x, EPS),
                "that is the one-sided difference "
                "(f(x + eps) - f(x)) / eps; use the central one, (f(x + eps) - f(x - eps)) / 2eps",
            ),
            (
                lambda: np.array([6.0, 24.0]),
                "divide by 2*eps, the distance between x + eps and x - eps, not by eps",
            ),
        ],
        rtol=1e-8,
    )
    compare(
        "relative_error([1], [1.1])",
        0.1 / 2.1,
        student.call("relative_error", np.ones(1), np.full(1, 1.1)),
        [
            (lambda: 0.1, "divide by |a| + |n| (here 2.1), so the error is relative"),
            (lambda: 0.1 / 1.1, "divide by |a| + |n| (here 2.1), not by |n| alone"),
        ],
    )
    a, n = np.array([1.0, 100.0]), np.array([1.1, 100.0])
    compare(
        "relative_error([1, 100], [1.1, 100]) (the largest elementwise error)",
        0.1 / 2.1,
        student.call("relative_error", a, n),
        [
            (
                lambda: np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n)),
                "that is one global norm, ||a - n|| / (||a|| + ||n||): the large entry hides the "
                "wrong small one; take the largest elementwise |a_i - n_i| / (|a_i| + |n_i|)",
            ),
            (lambda: 0.1 / 2.1 / 2, "take the largest elementwise error, not the mean"),
        ],
    )


def _conv_case(rng):
    x, w, b = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((3, 2, 2, 3)), np.ones(3)
    dout = rng.standard_normal((2, 3, 3, 3))

    def f():
        return float(np.sum(reference.conv2d_forward(x, w, b, (1, 1), "valid") * dout))

    dx, dw, _ = reference.conv2d_backward(dout, x, w, (1, 1), "valid")
    return f, x, w, dx, dw


def check_reference_layer(student) -> None:
    f, x, w, dx, dw = _conv_case(np.random.default_rng(0))
    for name, tensor, analytic in (("dx", x, dx), ("dw", w, dw)):
        numeric = _gradient(student, f, tensor, f"Conv2D {name}")
        error = student.call("relative_error", analytic, numeric)
        if not error < 1e-7:
            raise CheckError(
                f"your checker rejects the library's correct Conv2D backward: "
                f"relative_error for {name} = {float(error):.2e}, expected < 1e-7"
            )


def check_catches_bugs(student) -> None:
    f, x, w, dx, dw = _conv_case(np.random.default_rng(1))
    planted = {
        "dw flipped along KH": (w, dw[::-1]),
        "dx off by 1% at one pixel": (
            x,
            dx * np.where(np.arange(dx.size).reshape(dx.shape) == 7, 1.01, 1.0),
        ),
        "dw missing a 1/2": (w, dw / 2),
    }
    for bug, (tensor, wrong) in planted.items():
        numeric = _gradient(student, f, tensor, bug)
        error = student.call("relative_error", wrong, numeric)
        if not error > 1e-3:
            raise CheckError(
                f"your checker misses a planted bug ({bug}): relative_error = "
                f"{float(error):.2e}, expected > 1e-3"
            )


QUESTIONS = (
    Question(
        "order",
        "The central difference (f(x + eps) - f(x - eps)) / (2 eps) has an error of order",
        "b",
        "the eps² terms of the two Taylor expansions cancel, leaving O(eps²); the one-sided "
        "difference keeps an O(eps) term",
        choices=("eps", "eps²", "eps³"),
    ),
    Question(
        "worked_error",
        "relative_error([1], [1.1]) = ? (to 4 decimals)",
        0.047619,
        "|1 - 1.1| / (|1| + |1.1|) = 0.1 / 2.1 = 0.0476",
    ),
    Question(
        "global_norm",
        "Why compare element by element (the largest relative error) rather than one global "
        "norm ||a - n|| / (||a|| + ||n||)?",
        "a",
        "a global norm is dominated by the large entries; a wrong small entry (one pixel of dx) "
        "then hides below the threshold",
        choices=(
            "one wrong small entry hides inside a global norm",
            "a global norm is slower to compute",
            "a global norm is not defined for arrays",
        ),
    ),
)

HINTS = HintLadder(
    shapes="grad has x's shape (a float64 array); relative_error returns one float, the largest "
    "over elements. f() takes no argument: it reads x, which you change in place and restore.",
    path="For every index i: remember x[i], set x[i] + eps and evaluate f, set x[i] - eps and "
    "evaluate f, put x[i] back, then the difference quotient. For the error: elementwise "
    "|a - n| over |a| + |n| (guarded against 0), then the maximum.",
    formula="grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps); relative_error = max |a - n| "
    "/ max(|a| + |n|, 1e-12).",
)


EXERCISE = Exercise(
    name="gradient_check",
    topic="a central-difference gradient checker of your own",
    functions=("numerical_gradient", "relative_error"),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("passes the library's Conv2D backward", check_reference_layer),
        Check("catches planted bugs in a Conv2D backward", check_catches_bugs),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
