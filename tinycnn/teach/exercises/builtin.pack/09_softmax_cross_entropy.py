"""Exercise softmax_cross_entropy: the stable loss on logits, and its derived gradient.

Shapes: ``logits`` (N, K) float, ``y`` (N,) integer classes in [0, K). The forward math, with
``m[n] = max_k logits[n,k]``::

    p[n,k]     = exp(logits[n,k]) / Σ_k' exp(logits[n,k'])                 softmax of each row
    log p[n,k] = logits[n,k] - m[n] - log Σ_k' exp(logits[n,k'] - m[n])     (log-sum-exp)
    loss       = -(1/N) Σ_n log p[n, y[n]]                                  a Python float

Subtracting the row maximum ``m`` first is what makes it stable: the largest exponent is
``exp(0) = 1``, so logits of 1000 do not overflow, and the log never sees 0. Compute the loss
from ``log p`` (not ``log`` of ``p``: a probability that underflows to 0 gives ``-inf``).

**Derive** ``dlogits`` = ∂loss/∂logits (N, K), same dtype as logits: differentiate one row's
``-log p[n, y[n]]`` with respect to ``logits[n, k]``, once for ``k == y[n]`` and once for the
other ``k``, then account for the batch mean.

Worked number: logits = [[0, 0]], y = [1]: p = [0.5, 0.5], loss = log 2 = 0.693147. Work out
dlogits by hand before you write code.

Properties: adding a constant to a row of logits changes neither the loss nor the gradient.

``tinycnn exercises hint softmax_cross_entropy DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check softmax_cross_entropy DIR``.
"""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(logits, y):
    """Batch-mean cross-entropy of ``softmax(logits)`` against the labels, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (N, K)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, K), dtype of logits
    """
    ### BEGIN SOLUTION
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)  # largest logit of each row is 0
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, K)
    loss = -log_p[np.arange(N), y].mean()
    dlogits = np.exp(log_p)
    dlogits[np.arange(N), y] -= 1
    return float(loss), dlogits / N
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from hypothesis import strategies as st  # noqa: E402

from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_tuple,
    sibling,
)

reference = sibling("reference")


NO_SHIFT = (
    "softmax without the max shift overflows: subtract each row's maximum before exp (log-sum-exp)"
)
GLOBAL_MAX = (
    "one global maximum (logits.max()) is not enough: a row far below it underflows to 0 / 0; "
    "subtract each row's own maximum, logits.max(axis=1, keepdims=True)"
)
UNDERFLOW = (
    "the row maximum is subtracted, but the loss takes log of a probability that underflowed "
    "to 0 (log 0 = -inf): compute log p = shifted - log Σ exp(shifted) directly"
)


def _log_p(logits, shift, form):
    """log p with the row maximum (``"row"``), one global maximum or nothing subtracted, as
    log-sum-exp (``"lse"``) or as the log of the probability (``"log p"``)."""
    top = {"row": logits.max(axis=1, keepdims=True), "global": logits.max(), "none": 0.0}[shift]
    with np.errstate(all="ignore"):
        shifted = logits - top
        if form == "lse":
            return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        e = np.exp(shifted)
        return np.log(e / e.sum(axis=1, keepdims=True))


WRONG_LOG_P = {
    ("none", "lse"): NO_SHIFT,
    ("none", "log p"): NO_SHIFT,
    ("global", "lse"): GLOBAL_MAX,
    ("global", "log p"): GLOBAL_MAX,
    ("row", "log p"): UNDERFLOW,
}


def _check(student, logits, y, prefix=""):
    """dlogits first: a loss wrong with dlogits right points at the loss's own last step."""
    loss, dlogits = reference.softmax_cross_entropy(logits, y)
    got = expect_tuple(
        student.call("softmax_cross_entropy", logits, y),
        "softmax_cross_entropy",
        ("loss", "dlogits"),
    )
    N, rows, one_hot = len(y), np.arange(len(y)), np.eye(logits.shape[1])[y]
    log_p = {way: _log_p(logits, *way) for way in WRONG_LOG_P}
    with np.errstate(all="ignore"):
        losses = {way: -log_p[way][rows, y].mean() for way in WRONG_LOG_P}
        grads = {way: (np.exp(log_p[way]) - one_hot) / N for way in WRONG_LOG_P}
    compare(
        prefix + "dlogits",
        dlogits,
        got[1],
        [
            (lambda: dlogits * N, "a missing 1/N: dlogits = (p - Y) / N for a batch-mean loss"),
            (
                lambda: grads[("none", "lse")] * N,
                "a missing 1/N, and softmax without the max shift",
            ),
        ]
        + [(lambda way=way: grads[way], hint) for way, hint in WRONG_LOG_P.items()],
    )
    # dlogits is right, so the shift is there: an infinite loss is the log of an underflowed p
    loss_ways = [("row", "log p"), *(way for way in WRONG_LOG_P if way != ("row", "log p"))]
    compare(
        prefix + "loss",
        loss,
        got[0],
        [(lambda: loss * N, "the loss is the batch MEAN: divide the sum by N")]
        + [(lambda way=way: losses[way], WRONG_LOG_P[way]) for way in loss_ways],
    )


def check_shapes(student) -> None:
    logits, y = np.zeros((4, 3)), np.array([0, 1, 2, 0])
    got = student.call("softmax_cross_entropy", logits, y)
    got = expect_tuple(got, "softmax_cross_entropy", ("loss", "dlogits"))
    if np.ndim(got[0]) != 0:
        raise CheckError(
            f"loss should be one number (the batch mean), got shape {np.shape(got[0])}"
        )
    if np.shape(got[1]) != logits.shape:
        raise CheckError(f"dlogits should have the logits' shape (4, 3), got {np.shape(got[1])}")


def check_worked_example(student) -> None:
    _check(student, np.zeros((1, 2)), np.array([1]), "worked example: ")


def _drawn():
    @st.composite
    def cases(draw):
        N, K = draw(st.integers(1, 4)), draw(st.integers(2, 5))
        rng = np.random.default_rng(draw(st.integers(0, 2**31)))
        scale = draw(st.sampled_from([1.0, 10.0, 1000.0]))
        return rng.standard_normal((N, K)) * scale, rng.integers(0, K, N)

    return cases()


def check_shift_invariance(student) -> None:
    def case(drawn):
        logits, y = drawn
        _check(student, logits + 500.0, y, "logits + 500 (must not change the result): ")

    against_reference(_drawn(), case, describe=lambda c: f"logits {c[0].tolist()}, y {c[1]}")


def check_reference(student) -> None:
    against_reference(
        _drawn(),
        lambda drawn: _check(student, *drawn),
        describe=lambda c: f"logits {c[0].tolist()}, y {c[1]}",
    )


QUESTIONS = (
    Question(
        "worked_loss",
        "logits = [[0, 0]], y = [1]: what is the loss (to 4 decimals)?",
        0.693147,
        "p = [0.5, 0.5] and loss = -log p[1] = log 2 = 0.6931",
    ),
    Question(
        "row_sum",
        "What does each row of dlogits sum to?",
        0,
        "softmax is unchanged when every logit of a row moves together, so the gradient has no "
        "component along (1, 1, ..., 1): each row sums to 0",
    ),
    Question(
        "why_max",
        "Why subtract each row's maximum before exp?",
        "b",
        "softmax is shift-invariant, so the result is the same, and exp never sees a number above "
        "0: no overflow, and log never sees 0",
        choices=(
            "it changes the probabilities for the better",
            "it leaves the result unchanged and keeps exp from overflowing",
            "it is needed only for the gradient",
        ),
    ),
)

HINTS = HintLadder(
    shapes="loss is one float (the batch mean); dlogits is (N, K) like logits. Every row of "
    "dlogits depends only on its own row of logits, and each row sums to 0.",
    path="loss = (1/N) Σ_n ℓ_n with ℓ_n = -logits[n, y_n] + log Σ_k exp(logits[n, k]). "
    "Differentiate ℓ_n by logits[n, k]: the first term gives -1 when k = y_n, the log-sum-exp "
    "gives exp(logits[n, k]) / Σ_k' exp(...). Then the 1/N of the mean.",
    formula="p = softmax of each row (shifted by its maximum); dlogits = (p - one_hot(y)) / N.",
)


EXERCISE = Exercise(
    name="softmax_cross_entropy",
    topic="stable softmax cross-entropy, forward and backward",
    functions=("softmax_cross_entropy",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn logits (scales 1, 10 and 1000)", check_reference),
        Check("property: shift invariance (logits + 500)", check_shift_invariance),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
