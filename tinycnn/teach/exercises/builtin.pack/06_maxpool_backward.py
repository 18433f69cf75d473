"""Exercise maxpool_backward: derive where each output gradient goes in max pooling.

The forward pass (``maxpool_forward``)::

    out[n,i,j,c] = max_pq x_pad[n, SH*i + p, SW*j + q, c]      ("same" pads with -inf)

Shapes::

    dout (N, OH, OW, C)    ∂loss/∂out
    x    (N, H, W, C)      the forward input (find each window's winner again)
    dx   (N, H, W, C)      same dtype as dout

**Derive** ``dx``: how does ``out[n,i,j,c]`` change when one input of its window changes a
little, for the input that holds the maximum and for the others? When several inputs of a
window tie for the maximum, follow what the forward pass did: ``np.argmax`` (and TensorFlow)
read the **first** maximum in row-major order (smallest ``p*KW + q``). Windows overlap when the
stride is smaller than the window, so decide what an input that wins several windows receives.
Gradients that would land on "same" padding are dropped.

Worked number: x = [[1, 3], [3, 2]] (one 2 x 2 window, two tied 3s): out = [[3]]. With
dout = [[10]], work out dx by hand before you write code.

``tinycnn exercises hint maxpool_backward DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check maxpool_backward DIR``.
"""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_amounts, pad_input


def maxpool_backward(dout, x, KH, KW, S=(2, 2), padding="valid"):
    """Route ``dout`` to the first maximum of each window.

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, C)
    x : ndarray, shape (N, H, W, C)
    KH, KW : int
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    dx : ndarray, shape (N, H, W, C), dtype of dout
    """
    ### BEGIN SOLUTION
    N, H, W, C = x.shape
    SH, SW = S
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    (top, bottom), (left, right) = pad_amounts(x.shape, KH, KW, S, padding)
    x_pad = pad_input(x, KH, KW, S, padding, value=-np.inf)
    dx_pad = np.zeros(x_pad.shape, dtype=dout.dtype)
    best = np.full(dout.shape, -np.inf)
    winner = np.zeros(dout.shape, dtype=int)
    for k, (p, q) in enumerate(np.ndindex(KH, KW)):
        window = x_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :]
        better = window > best  # strictly larger: on a tie the first offset keeps the win
        best = np.where(better, window, best)
        winner[better] = k
    for k, (p, q) in enumerate(np.ndindex(KH, KW)):
        routed = np.where(winner == k, dout, 0)
        dx_pad[:, p : p + SH * OH : SH, q : q + SW * OW : SW, :] += routed
    return dx_pad[:, top : top + H, left : left + W, :]
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from tinycnn.kernels.pool import maxpool_forward as pool_forward  # noqa: E402
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    expect_array,
    gradients_match,
    plotted,
    sibling,
)
from tinycnn.testing.strategies import PoolConfig, pool_configs  # noqa: E402

reference = sibling("reference")


def _tied(dout, x, KH, KW, S, padding, share: bool):
    """The gradient sent to every tied maximum, in full or shared equally (mistakes)."""
    N, H, W, C = x.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    (top, _), (left, _) = pad_amounts(x.shape, KH, KW, S, padding)
    x_pad = pad_input(np.asarray(x, dtype=np.float64), KH, KW, S, padding, value=-np.inf)
    out = pool_forward(np.asarray(x, dtype=np.float64), KH, KW, S, padding)[0]
    windows = [
        x_pad[:, p : p + S[0] * OH : S[0], q : q + S[1] * OW : S[1], :] == out
        for p, q in np.ndindex(KH, KW)
    ]
    count = np.sum(windows, axis=0)
    dx_pad = np.zeros(x_pad.shape)
    for (p, q), tie in zip(np.ndindex(KH, KW), windows, strict=True):
        share_of = dout / count if share else dout
        dx_pad[:, p : p + S[0] * OH : S[0], q : q + S[1] * OW : S[1], :] += np.where(
            tie, share_of, 0
        )
    return dx_pad[:, top : top + H, left : left + W, :]


def _last_wins(dout, x, KH, KW, S, padding):
    flipped = reference.maxpool_backward(dout[:, ::-1, ::-1], x[:, ::-1, ::-1], KH, KW, S, "valid")
    return flipped[:, ::-1, ::-1] if padding == "valid" else None


def _mistakes(dout, x, KH, KW, S, padding):
    return [
        (
            lambda: _tied(dout, x, KH, KW, S, padding, share=False),
            "ties double-counted: every tied maximum got the full gradient; only the FIRST "
            "maximum in row-major order (smallest p*KW + q) gets it, the others 0",
        ),
        (
            lambda: _tied(dout, x, KH, KW, S, padding, share=True),
            "the gradient was shared among tied maxima; it all goes to the first maximum",
        ),
        (
            lambda: _last_wins(dout, x, KH, KW, S, padding),
            "the LAST maximum won the tie (>= instead of >); the first one must win",
        ),
    ]


def _check(student, what, dout, x, KH, KW, S, padding):
    args = (dout, x, KH, KW, S, padding)
    compare(
        what,
        reference.maxpool_backward(*args),
        student.call("maxpool_backward", *args),
        _mistakes(*args),
    )


def check_shapes(student) -> None:
    x = np.random.default_rng(0).standard_normal((2, 7, 5, 3)).astype(np.float32)
    dx = student.call(
        "maxpool_backward", np.ones((2, 3, 2, 3), np.float32), x, 2, 2, (2, 2), "valid"
    )
    expect_array(dx, "dx (x's shape)", x.shape, where="x (2, 7, 5, 3), 2x2 windows, stride 2")


def check_worked_example(student) -> None:
    x = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    _check(
        student,
        "dx of the worked example (0 10 / 0 0)",
        np.full((1, 1, 1, 1), 10.0),
        x,
        2,
        2,
        (2, 2),
        "valid",
    )


def _case(student, config: PoolConfig):
    x = config.x()
    S = (config.SH, config.SW)
    out_shape = reference.maxpool_forward(x, config.KH, config.KW, S, config.padding).shape
    dout = np.random.default_rng(config.seed).standard_normal(out_shape)
    _check(student, "dx", dout, x, config.KH, config.KW, S, config.padding)


def check_reference(student) -> None:
    against_reference(pool_configs(), lambda config: _case(student, config))


def check_gradients(student) -> None:
    x = np.random.default_rng(1).standard_normal((2, 5, 6, 2))
    gradients_match(
        lambda x: reference.maxpool_forward(x, 3, 2, (2, 1), "same"),
        lambda dout, x: student.call("maxpool_backward", dout, x, 3, 2, (2, 1), "same"),
        {},
        x,
        "x (2, 5, 6, 2), 3x2 windows, strides (2, 1), 'same'",
    )


def check_ties(student) -> None:
    against_reference(pool_configs(ties=True), lambda config: _case(student, config))


QUESTIONS = (
    Question(
        "tie_winner",
        "x = [[1, 3], [3, 2]] is one 2 x 2 window and dout = [[10]]: what does dx[0, 1] (the first "
        "3) receive?",
        10,
        "the output is x[0, 1]; only the first maximum in row-major order is on the path, so it "
        "gets the whole 10",
    ),
    Question(
        "tie_loser",
        "Same window: what does dx[1, 0] (the second 3) receive?",
        0,
        "the output was read from x[0, 1] alone; changing x[1, 0] a little does not change it",
    ),
    Question(
        "most_windows",
        "3 x 3 windows, stride 1, on a 4 x 4 input: at most how many windows can one input "
        "pixel win (and so add dout from)?",
        4,
        "there are 2 x 2 = 4 windows and the four centre pixels lie in all of them",
    ),
)

HINTS = HintLadder(
    shapes="dx has x's shape (N, H, W, C) and starts at zeros. Each dout[n, i, j, c] goes to ONE "
    "input of its window; an input that wins several overlapping windows receives their sum.",
    path="out = max of the window: a small change of the winning input changes out by the same "
    "amount, a change of any other input does not change it. So the local gradient is 1 at the "
    "winner and 0 elsewhere; with ties the forward pass read the first maximum in row-major order "
    "(hint-maxpool_backward.png: winners outlined, losing ties crossed).",
    formula="For each window find (p*, q*) = the first argmax (strict > while scanning p, then q); "
    "dx_pad[n, SH*i + p*, SW*j + q*, c] += dout[n, i, j, c]; then drop the padding.",
    picture=plotted("plot_maxpool"),
)


EXERCISE = Exercise(
    name="maxpool_backward",
    topic="MaxPool2D backward: the gradient to each window's first maximum (ties)",
    functions=("maxpool_backward",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example (a tie)", check_worked_example),
        Check("matches the reference on drawn configurations", check_reference),
        Check("gradient check (float64 central differences)", check_gradients),
        Check("edge case: windows with ties (first maximum wins)", check_ties),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
