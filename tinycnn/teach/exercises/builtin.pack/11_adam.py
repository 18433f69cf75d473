"""Exercise adam: one step of Adam, derived into the form Keras uses.

Adam as the paper (Kingma & Ba, 2015, Algorithm 1) writes it, for a parameter ``p`` with
gradient ``g`` (same shape), moving averages ``m`` and ``v`` (same shape, zeros before step 1)
and the step number ``t = 1, 2, ...``::

    m     ← β₁·m + (1 − β₁)·g                 first moment
    v     ← β₂·v + (1 − β₂)·g²                second moment (elementwise square)
    m̂     = m / (1 − β₁ᵗ)                     bias corrections (m and v start at 0)
    v̂     = v / (1 − β₂ᵗ)
    p     ← p − α·m̂ / (√v̂ + ε)                 α = learning_rate, β₁ = beta_1, β₂ = beta_2

Keras (and tinycnn) compute the same step with fewer divisions: both bias corrections are
folded into one step size ``lr_t`` for the whole tensor, and ``epsilon`` is the paper's ε̂
("epsilon hat", end of its section 2): added to √v, not to √v̂.

**Derive** that form: substitute m̂ and v̂ into the paper's last line, move every factor that
depends only on ``t`` out of the fraction into one number ``lr_t``, so that the update reads
p ← p − lr_t·m / (√v + ε̂). Return new arrays of ``p``'s shape and dtype; do not
modify the arguments.

Worked number: p = 1, g = 0.5, m = v = 0, t = 1, learning_rate = 0.1: m = 0.05,
v = 0.00025, and the new p is 0.9000006 (with epsilon = 1e-7 in Keras's place).

``tinycnn exercises hint adam DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check adam DIR``.
"""

from __future__ import annotations

import numpy as np


def adam_step(p, g, m, v, t, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Step ``t`` of Adam; returns new arrays (the arguments are not modified).

    Parameters
    ----------
    p, g, m, v : ndarray, all of the same shape
        Parameter, its gradient, first and second moments after step ``t - 1``.
    t : int
        This step's number, starting at 1.
    learning_rate, beta_1, beta_2, epsilon : float

    Returns
    -------
    p, m, v : ndarray, same shape and dtype as the arguments
        After step ``t``.
    """
    ### BEGIN SOLUTION
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    lr_t = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return p - lr_t * m / (np.sqrt(v) + epsilon), m, v
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
    expect_array,
    expect_tuple,
    plotted,
    sibling,
)

reference = sibling("reference")


def _variant(p, g, m, v, t, lr, b1, b2, eps, correct=True, paper=False, square=True):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g**2 if square else np.abs(g))
    if paper:
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t) if correct else lr
    return p - lr_t * m / (np.sqrt(v) + eps)


PMV = ("p", "m", "v")


def _check(student, p, g, m, v, t, lr, b1, b2, eps, prefix=""):
    expected = reference.adam_step(p, g, m, v, t, lr, b1, b2, eps)
    got = expect_tuple(student.call("adam_step", p, g, m, v, t, lr, b1, b2, eps), "adam_step", PMV)
    args = (p, g, m, v, t, lr, b1, b2, eps)
    compare(prefix + "m", expected[1], got[1])
    compare(
        prefix + "v",
        expected[2],
        got[2],
        [
            (lambda: b2 * v + (1 - b2) * g, "v averages the SQUARED gradient, g**2"),
        ],
    )
    compare(
        prefix + "p",
        expected[0],
        got[0],
        [
            (
                lambda: _variant(*args, correct=False),
                "a missing bias correction: the step size is "
                "lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)",
            ),
            (
                lambda: _variant(*args, paper=True),
                "that is the paper's form (epsilon added to "
                "sqrt(v_hat)); Keras adds epsilon to sqrt(v) and folds the correction into lr_t",
            ),
            (lambda: p + (p - expected[0]), "the step goes the wrong way: p = p - lr_t * ..."),
        ],
        rtol=1e-9,
        atol=1e-12,
    )


def check_shapes(student) -> None:
    p = np.ones((3, 2), dtype=np.float32)
    got = student.call("adam_step", p, p, np.zeros_like(p), np.zeros_like(p), 1)
    for name, value in zip(PMV, expect_tuple(got, "adam_step", PMV), strict=True):
        expect_array(value, name, p.shape, where=f"p, g, m and v of shape {p.shape}")


def check_worked_example(student) -> None:
    one = np.ones(1)
    _check(student, one, one * 0.5, one * 0, one * 0, 1, 0.1, 0.9, 0.999, 1e-7, "worked example: ")


@st.composite
def _cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    t = draw(st.integers(1, 1000))
    scale = draw(st.sampled_from([1.0, 1e-4, 1e-8]))  # tiny gradients: where epsilon matters
    p, g = rng.standard_normal(shape), rng.standard_normal(shape) * scale
    m, v = (rng.standard_normal(shape) * scale, (rng.standard_normal(shape) * scale) ** 2)
    if t == 1:
        m, v = np.zeros(shape), np.zeros(shape)
    lr = draw(st.sampled_from([1e-3, 0.01, 0.1]))
    return p, g, m, v, t, lr, draw(st.sampled_from([0.9, 0.5])), 0.999, 1e-7


def check_reference(student) -> None:
    against_reference(
        _cases(),
        lambda case: _check(student, *case),
        describe=lambda c: (
            f"t = {c[4]}, |g| ~ {np.abs(c[1]).max():.0e}, lr = {c[5]}, beta_1 = {c[6]}"
        ),
    )


def check_inputs_unchanged(student) -> None:
    p, g = np.ones(3), np.full(3, 0.5)
    m, v = np.full(3, 0.1), np.full(3, 0.01)
    copies = [a.copy() for a in (p, g, m, v)]
    student.call_shared("adam_step", p, g, m, v, 2)
    for name, before, after in zip("pgmv", copies, (p, g, m, v), strict=True):
        if not np.array_equal(before, after):
            raise CheckError(
                f"adam_step changed its argument {name}",
                "update in place (m *= ..., p -= ...) changes the caller's arrays; "
                "return new ones (m = beta_1 * m + ... makes a new array)",
            )


QUESTIONS = (
    Question(
        "m_hat_step_1",
        "Step t = 1, m = 0 before it, beta_1 = 0.9, g = 0.5: what is the paper's bias-corrected "
        "m_hat?",
        0.5,
        "m = 0.1 * 0.5 = 0.05 and m_hat = m / (1 - 0.9) = 0.5: at step 1 m_hat is g itself",
    ),
    Question(
        "first_step",
        "Step t = 1, learning_rate = 0.1, any gradient g much larger than epsilon: about how "
        "far does p move (|p_new - p|)?",
        0.1,
        "m_hat = g and sqrt(v_hat) = |g|, so the step is learning_rate * g / |g|: the first step "
        "has size learning_rate whatever the scale of g",
        rel_tol=1e-2,
    ),
    Question(
        "epsilon_place",
        "In the form this exercise asks for (Keras's), epsilon is added to",
        "a",
        "Keras folds the bias corrections into lr_t and adds epsilon to sqrt(v); the paper adds it "
        "to sqrt(v_hat), which differs when gradients are tiny",
        choices=("sqrt(v)", "sqrt(v_hat)", "v_hat, inside the square root"),
    ),
)

HINTS = HintLadder(
    shapes="p, g, m and v all have one shape and nothing is summed: Adam is elementwise. t is a "
    "scalar counting from 1; return new arrays (no in-place updates of the arguments).",
    path="Start from the paper's step p - learning_rate * m_hat / (sqrt(v_hat) + epsilon). Write "
    "m_hat and v_hat with their (1 - beta**t) factors and move both factors out of the fraction "
    "into one step size lr_t; epsilon then sits next to sqrt(v) (hint-adam.png: SGD, momentum "
    "and Adam on one loss surface).",
    formula="m = beta_1*m + (1 - beta_1)*g; v = beta_2*v + (1 - beta_2)*g**2; lr_t = "
    "learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t); p = p - lr_t * m / (sqrt(v) + "
    "epsilon).",
    picture=plotted("plot_optimizer_paths"),
)


EXERCISE = Exercise(
    name="adam",
    topic="one Adam step (Keras's epsilon-hat form)",
    functions=("adam_step",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn steps (tiny gradients too)", check_reference),
        Check("edge case: the arguments are not modified", check_inputs_unchanged),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
