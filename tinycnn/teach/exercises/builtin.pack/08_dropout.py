"""Exercise dropout: inverted dropout, in training and at inference (Keras's ``Dropout``).

In training, each element is kept with probability ``1 - rate``, and kept elements are scaled
by ``1 / (1 - rate)`` so that the expected output equals the input; at inference dropout is the
identity (no mask, no scaling)::

    keep = rng.random(x.shape) >= rate          one uniform draw per element, in this order
    mask = keep / (1 - rate)                    shape of x
    out  = x * mask                             training
    out  = x                                    inference (mask None)
    dx   = dout * mask                          (dout itself when mask is None)

Draw the mask with exactly ``rng.random(x.shape) >= rate`` so that the check, using the same
generator state, expects the same mask.

Worked example: rate = 0.5, x = [1, 2, 3, 4]; if the draws are u = [0.7, 0.2, 0.9, 0.4]:
keep = [1, 0, 1, 0], mask = [2, 0, 2, 0], out = [2, 0, 6, 0].

Check your answer: ``tinycnn exercises check dropout DIR``.
"""

from __future__ import annotations

import numpy as np


def dropout_forward(x, rate, training, rng):
    """Drop a fraction ``rate`` of ``x`` and rescale the rest (training), or pass it through.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    rate : float
        In [0, 1).
    training : bool
    rng : numpy.random.Generator

    Returns
    -------
    out : ndarray, shape (N, ...)
    mask : ndarray, shape (N, ...), or None at inference
    """
    ### BEGIN SOLUTION
    if not training:
        return x, None
    keep = rng.random(x.shape) >= rate
    mask = (keep / (1 - rate)).astype(x.dtype)  # kept elements scaled by 1/(1-rate)
    return x * mask, mask
    ### END SOLUTION


def dropout_backward(dout, mask):
    """The gradient through dropout.

    Parameters
    ----------
    dout : ndarray, shape (N, ...)
    mask : ndarray, shape (N, ...), or None

    Returns
    -------
    dx : ndarray, shape (N, ...)
    """
    ### BEGIN SOLUTION
    return dout if mask is None else dout * mask
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
    expect_tuple,
    plotted,
    sibling,
)
from tinycnn.testing.strategies import images  # noqa: E402

reference = sibling("reference")


def _training(student, x, rate, seed, prefix=""):
    expected, mask = reference.dropout_forward(x, rate, True, np.random.default_rng(seed))
    keep = np.random.default_rng(seed).random(x.shape) >= rate
    got = student.call("dropout_forward", x, rate, True, np.random.default_rng(seed))
    got = expect_tuple(got, "dropout_forward", ("out", "mask"))
    compare(
        f"{prefix}out in training, rate {rate}",
        expected,
        got[0],
        [
            (
                lambda: x * keep,
                "dropout not rescaled: kept elements must be divided by (1 - rate) "
                "so that the expected output equals x",
            ),
            (
                lambda: x * keep * (1 - rate),
                "kept elements are divided by (1 - rate), not multiplied",
            ),
            (
                lambda: x * (~keep) / rate if rate else x,
                "the mask is inverted: keep where u >= rate (rate is the fraction DROPPED)",
            ),
        ],
    )
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    got_dx = student.call("dropout_backward", dout, got[1])
    compare(
        f"{prefix}dx in training, rate {rate}",
        dout * mask,
        got_dx,
        [
            (lambda: dout * keep, "dx must use the same scaled mask as forward (1/(1-rate))"),
            (lambda: dout, "in training dx = dout * mask: dropped elements get no gradient"),
        ],
    )


BOOL_BY_FLOAT = (
    "the mask is float64: a bool array divided by a Python float is float64, and x * mask then "
    "is too; cast the mask to x's dtype, (keep / (1 - rate)).astype(x.dtype)"
)


def check_shapes(student) -> None:
    x = np.ones((2, 3, 4, 5), dtype=np.float32)
    got = student.call("dropout_forward", x, 0.5, True, np.random.default_rng(0))
    out, mask = expect_tuple(got, "dropout_forward", ("out", "mask"))
    float64 = getattr(mask, "dtype", None) == getattr(out, "dtype", None) == np.float64
    hint = BOOL_BY_FLOAT if float64 else None
    expect_array(out, "out", x.shape, x.dtype, f"x float32 {x.shape}, training", hint)


def check_worked_example(student) -> None:
    _training(student, np.array([[1.0, 2.0, 3.0, 4.0]]), 0.5, 3, "seeded example: ")


def check_inference(student) -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    got = student.call("dropout_forward", x, 0.5, False, np.random.default_rng(0))
    got = expect_tuple(got, "dropout_forward", ("out", "mask"))
    compare(
        "out at inference (training=False) must be x itself",
        x,
        got[0],
        [
            (
                lambda: x * 0.5,
                "at inference dropout is the identity: inverted dropout already "
                "scaled in training, so no (1 - rate) factor here",
            ),
            (lambda: x / 0.5, "at inference dropout is the identity: no 1/(1 - rate) here"),
            (
                lambda: reference.dropout_forward(x, 0.5, True, np.random.default_rng(0))[0],
                "dropout was applied at inference: drop and rescale only when training is True",
            ),
        ],
    )
    dout = np.ones_like(x)
    compare("dx at inference", dout, student.call("dropout_backward", dout, got[1]))


def check_reference(student) -> None:
    drawn = st.tuples(images(), st.sampled_from([0.1, 0.5, 0.9]), st.integers(0, 2**31))
    against_reference(drawn, lambda case: _training(student, *case))


QUESTIONS = (
    Question(
        "scale",
        "rate = 0.2: by how much is each kept element multiplied in training?",
        1.25,
        "kept with probability 1 - rate = 0.8, scaled by 1 / 0.8 = 1.25 so the mean is unchanged",
    ),
    Question(
        "inference",
        "With inverted dropout, what is the output at inference?",
        "a",
        "the 1/(1 - rate) scaling was done in training, so inference is the identity",
        choices=("x", "x * (1 - rate)", "x / (1 - rate)"),
    ),
    Question(
        "bool_dtype",
        "keep is a bool array; what dtype is keep / (1 - rate)?",
        "c",
        "NumPy turns bool / Python float into float64, which would make a float32 x's output "
        "float64: cast the mask to x.dtype",
        choices=("bool", "float32", "float64"),
    ),
)

HINTS = HintLadder(
    shapes="out and mask have x's shape and x's dtype; at inference mask is None. dx has dout's "
    "shape.",
    path="In training out = x * mask with mask fixed by the draw, so dout flows back through the "
    "same multiplication; at inference out = x. Keep where the uniform draw u >= rate "
    "(hint-dropout.png: training vs inference).",
    formula="keep = rng.random(x.shape) >= rate; mask = (keep / (1 - rate)).astype(x.dtype); out = "
    "x * mask; dx = dout * mask (dout when mask is None).",
    picture=plotted("plot_dropout"),
)


EXERCISE = Exercise(
    name="dropout",
    topic="inverted Dropout: training vs inference",
    functions=("dropout_forward", "dropout_backward"),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("property: identity at inference", check_inference),
        Check("matches the reference on drawn inputs and rates", check_reference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
