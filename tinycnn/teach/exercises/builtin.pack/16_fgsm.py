"""Exercise fgsm: one targeted fast gradient sign step (Goodfellow et al. 2015).

The network is handed to you as two functions that run it, its own forward and backward:

- ``scores(x)``: the class scores (logits, before the softmax) ``z``, float64 of shape (N, K),
  for a batch ``x`` of shape (N, H, W, C) with pixels in [0, 1];
- ``input_gradient(x, dscores)``: ONE backward pass from the upstream gradient ``dscores``
  (N, K), returning ``dx`` (N, H, W, C) with ``dx[n] = Σ_j dscores[n, j] * ∂z[n, j]/∂x[n]``.

To make the network say class t, raise ``log p_t`` where ``p = softmax(z)``: move every pixel by
``epsilon`` in the direction of the sign of ``∇x log p_t``, then clip to the valid range:

    x_new = clip(x + epsilon * sign(∇x log p_t), 0, 1)

Derive ``∂ log p_t / ∂z`` (``log p_t = z_t - log Σ_j exp z_j``) to get ``dscores``. Scores can
be large: compute the softmax so that ``exp`` never overflows. Return float64 of x's shape.

Worked example: two classes and a linear model, ``z = x.reshape(N, -1) @ Wm``: then
``∇x log p_t = p_o * (Wm[:, t] - Wm[:, o])``, so the step is ``epsilon * sign(Wm[:, t] -
Wm[:, o])``. With ``Wm = [[1, 0], [0, 2], [3, 1], [0, 0.5]]``, x = 0.5 everywhere, t = 0 and
epsilon = 0.1: x_new = [0.6, 0.4, 0.6, 0.4] (one 1 x 2 image, C = 2).

Check your answer: ``tinycnn exercises check fgsm DIR``.
"""

from __future__ import annotations

import numpy as np


def fgsm_step(scores, input_gradient, x, target, epsilon):
    """One fast gradient sign step toward class ``target`` for every image of a batch.

    Parameters
    ----------
    scores : callable
        ``scores(x) -> z``, shape (N, K).
    input_gradient : callable
        ``input_gradient(x, dscores) -> dx``, dscores (N, K), dx (N, H, W, C).
    x : ndarray, shape (N, H, W, C), float64 in [0, 1]
    target : int
        The class to push every image toward, ``0 <= target < K``.
    epsilon : float
        How far each pixel moves, > 0.

    Returns
    -------
    x_new : ndarray, shape (N, H, W, C), float64 in [0, 1]
    """
    ### BEGIN SOLUTION
    z = scores(x)  # (N, K)
    z = z - z.max(axis=1, keepdims=True)  # exp never overflows; the softmax is unchanged
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # (N, K)
    dscores = -p
    dscores[:, target] += 1.0  # ∂ log p_t / ∂z
    g = input_gradient(x, dscores)  # (N, H, W, C)
    return np.clip(x + epsilon * np.sign(g), 0.0, 1.0)
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
    sibling,
)

WORKED = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [0.0, 0.5]])  # (H*W*C, K) = (4, 2)


networks = sibling("networks")


def _run(student, model, x, target, epsilon):
    """The student's step with callbacks to ``model``, the expected step, the mistakes."""
    scores, input_gradient = networks.callbacks(model)
    got = student.call("fgsm_step", scores, input_gradient, x, target, epsilon)
    z = scores(x)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(p)
    onehot[:, target] = 1.0
    g = input_gradient(x, onehot - p)
    mistakes = [
        (
            lambda: np.clip(x - epsilon * np.sign(g), 0, 1),
            "that step moves AWAY from the target: add epsilon * sign(∇ log p_t)",
        ),
        (
            lambda: np.clip(x + epsilon * g, 0, 1),
            "move by the SIGN of the gradient (every pixel by exactly epsilon), not by the "
            "gradient itself",
        ),
        (
            lambda: x + epsilon * np.sign(g),
            "clip the new image to [0, 1]: a pixel cannot be darker than black or brighter than "
            "white",
        ),
        (
            lambda: np.clip(x + epsilon * np.sign(input_gradient(x, onehot)), 0, 1),
            "raise log p_t = z_t - log Σ exp z, not z_t alone: ∂ log p_t/∂z = onehot(t) - p, "
            "which also pushes the other scores down",
        ),
    ]
    return got, np.clip(x + epsilon * np.sign(g), 0, 1), mistakes


def check_shapes(student) -> None:
    x = np.random.default_rng(0).random((2, 6, 7, 2))
    got, _, _ = _run(student, networks.small_cnn(0), x, 2, 0.1)
    expect_array(got, "fgsm_step(..., x, 2, 0.1)", x.shape, np.float64, "x (2, 6, 7, 2)")


def check_worked_example(student) -> None:
    model = networks.linear(WORKED)
    x = np.full((1, 1, 2, 2), 0.5)
    got, expected, mistakes = _run(student, model, x, 0, 0.1)
    compare("worked example: x = 0.5, target 0, epsilon 0.1", expected, got, mistakes)
    edge = np.array([[[[0.95, 0.02], [1.0, 0.0]]]])  # steps would leave [0, 1] here
    got, expected, mistakes = _run(student, model, edge, 0, 0.1)
    compare("the same model at pixels near 0 and 1", expected, got, mistakes)


def check_large_scores(student) -> None:
    x = np.full((1, 1, 2, 2), 0.5)
    got, expected, mistakes = _run(student, networks.linear(WORKED, scale=1000.0), x, 1, 0.1)
    if isinstance(got, np.ndarray) and np.isnan(got).any():
        raise CheckError(
            "scores near 1000: your step has nan in it",
            "subtract each row's largest score before exp: exp(1000) overflows to inf, and "
            "inf / inf is nan",
        )
    compare("scores near 1000, target 1", expected, got, mistakes)


def check_reference(student) -> None:
    def case(drawn):
        seed, target, epsilon = drawn
        x = np.random.default_rng(seed).random((2, 6, 7, 2))
        got, expected, mistakes = _run(student, networks.small_cnn(seed), x, target, epsilon)
        compare(
            f"a small ReLU CNN (seed {seed}), target {target}, epsilon {epsilon:g}",
            expected,
            got,
            mistakes,
        )

    against_reference(
        st.tuples(st.integers(0, 2**16), st.integers(0, 3), st.sampled_from([0.01, 0.1, 0.3])),
        case,
        max_examples=10,
    )


QUESTIONS = (
    Question(
        "margin",
        "Two classes, a linear model, no pixel clipped: Σ|Wm[:, t] - Wm[:, o]| = 40 over the "
        "image and epsilon = 0.1. By how much does the margin z_t - z_o rise in one step?",
        4.0,
        "each pixel moves by 0.1 * sign(w_t - w_o), so the margin moves by "
        "0.1 * Σ|w_t - w_o| = 0.1 * 40 = 4",
    ),
    Question(
        "why_sign",
        "Why step by the sign of the gradient rather than the gradient itself?",
        "b",
        "with every pixel allowed to move at most epsilon, epsilon * sign(g) is the step that "
        "raises the first-order change g·step most: epsilon * Σ|g|",
        choices=(
            "the sign is cheaper to compute than the gradient",
            "under a limit of epsilon per pixel it is the step that raises log p_t most, to "
            "first order",
            "the gradient is always 0 at the pixels of a digit",
        ),
    ),
)

HINTS = HintLadder(
    shapes="z and dscores are (N, K); the gradient and the new image have x's shape "
    "(N, H, W, C); every pixel moves by exactly +epsilon or -epsilon (or 0) before clipping.",
    path="log p_t = z_t - log Σ_j exp z_j, so ∂ log p_t/∂z_j is 1[j = t] minus the softmax "
    "probability p_j; pass that as dscores, take the sign of what comes back, step, clip.",
    formula="p = softmax(z - z.max(1)); dscores = onehot(t) - p; g = input_gradient(x, dscores); "
    "x_new = clip(x + epsilon * sign(g), 0, 1).",
)


EXERCISE = Exercise(
    name="fgsm",
    topic="one targeted fast gradient sign step (fooling images)",
    functions=("fgsm_step",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example (a linear model; pixels near 0 and 1)", check_worked_example),
        Check("scores near 1000 (a stable softmax)", check_large_scores),
        Check("matches the reference on a small ReLU CNN", check_reference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
