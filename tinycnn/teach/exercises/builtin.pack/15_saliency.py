"""Exercise saliency: which pixels can move a class's score most (CS231n, "Network
Visualization"; Simonyan et al. 2014).

The network is handed to you as two functions that run it, its own forward and backward:

- ``scores(x)``: the class scores (logits, before the softmax) ``z`` of a batch, float64 of
  shape (N, K), for ``x`` of shape (N, H, W, C);
- ``input_gradient(x, dscores)``: ONE backward pass from the upstream gradient ``dscores``
  (N, K), returning ``dx`` (N, H, W, C) with ``dx[n] = Σ_j dscores[n, j] * ∂z[n, j]/∂x[n]``.

The saliency map of class k is, for each image n and pixel (h, w),

    s[n, h, w] = max over c of |∂z[n, k] / ∂x[n, h, w, c]|

Derive which ``dscores`` makes ``input_gradient`` return ``∂z_k/∂x`` (one backward pass for the
whole batch). Return float64 of shape (N, H, W): no channel axis, never negative.

Worked example: a linear model ``z = x.reshape(N, -1) @ Wm`` on 1 x 2 images with C = 2 has
``∂z_k/∂x = Wm[:, k]`` laid out (H, W, C). With ``Wm[:, 1] = [0.5, -2, -1, -0.25]`` (pixel (0, 0)
channels 0 and 1, then pixel (0, 1)), class 1's saliency is ``[[2.0, 1.0]]``.

Check your answer: ``tinycnn exercises check saliency DIR``.
"""

from __future__ import annotations

import numpy as np


def saliency(scores, input_gradient, x, k):
    """The saliency map of class ``k`` for every image of a batch.

    Parameters
    ----------
    scores : callable
        ``scores(x) -> z``, shape (N, K).
    input_gradient : callable
        ``input_gradient(x, dscores) -> dx``, dscores (N, K), dx (N, H, W, C).
    x : ndarray, shape (N, H, W, C), float64
    k : int
        The class, ``0 <= k < K``.

    Returns
    -------
    s : ndarray, shape (N, H, W), float64
    """
    ### BEGIN SOLUTION
    N, K = np.shape(scores(x))
    dscores = np.zeros((N, K))
    dscores[:, k] = 1.0  # ∂z_k/∂z: one-hot at k
    dx = input_gradient(x, dscores)  # (N, H, W, C)
    return np.abs(dx).max(axis=-1)
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
    sibling,
)

WORKED = np.array(
    [[1.0, 0.5, 0.0], [0.0, -2.0, 1.0], [2.0, -1.0, 0.5], [-1.0, -0.25, 3.0]]
)  # (H*W*C, K) = (4, 3): the worked example's Wm


networks = sibling("networks")


def _run(student, model, x, k):
    """The student's saliency with callbacks to ``model``; the expected map; the mistakes."""
    scores, input_gradient = networks.callbacks(model)
    got = student.call("saliency", scores, input_gradient, x, k)
    K = scores(x).shape[1]
    onehot = np.zeros((len(x), K))
    onehot[:, k] = 1.0
    dx = input_gradient(x, onehot)
    mistakes = [
        (
            lambda: dx.max(axis=-1),
            "take the absolute value before the maximum: a large negative ∂z/∂x moves the score "
            "as much as a large positive one",
        ),
        (lambda: np.abs(dx).sum(axis=-1), "the maximum over the channels, not their sum"),
        (
            lambda: np.abs(dx.max(axis=-1)),
            "the absolute value first, then the maximum over channels: |max_c ∂z/∂x| misses a "
            "channel whose gradient is large and negative",
        ),
        (
            lambda: np.abs(input_gradient(x, np.ones((len(x), K)))).max(axis=-1),
            "dscores must be 1 at class k only: ones everywhere give the gradient of the SUM of "
            "all the scores",
        ),
    ]
    return got, np.abs(dx).max(axis=-1), mistakes


def check_shapes(student) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((2, 6, 7, 2))
    got, _, _ = _run(student, networks.small_cnn(0), x, 1)
    expect_array(got, "saliency(..., x, 1)", (2, 6, 7), np.float64, "x (2, 6, 7, 2)")


def check_worked_example(student) -> None:
    x = np.full((1, 1, 2, 2), 0.5)
    got, expected, mistakes = _run(student, networks.linear(WORKED), x, 1)
    compare("worked example: class 1 of the linear model", expected, got, mistakes)


def check_reference(student) -> None:
    def case(drawn):
        seed, k, N = drawn
        x = np.random.default_rng(seed).random((N, 6, 7, 2))
        got, expected, mistakes = _run(student, networks.small_cnn(seed), x, k)
        compare(f"saliency of class {k} (a small ReLU CNN, seed {seed})", expected, got, mistakes)

    against_reference(
        st.tuples(st.integers(0, 2**16), st.integers(0, 3), st.integers(1, 3)),
        case,
        max_examples=10,
    )


QUESTIONS = (
    Question(
        "linear_pixel",
        "A linear model z = Wm.T @ x.ravel() on a 1 x 1 image with C = 3 channels has "
        "Wm[:, k] = [0.3, -1.5, 0.8]. What is the saliency of class k at that pixel?",
        1.5,
        "the gradient of z_k is Wm[:, k] itself; the largest of |0.3|, |-1.5|, |0.8| is 1.5",
    ),
    Question(
        "one_pass",
        "How many backward passes does your saliency take for a batch of N images?",
        "a",
        "dscores one-hot at k in every row gives every image's ∂z_k/∂x at once: the images of a "
        "batch do not mix in the backward pass",
        choices=("one", "N", "K (one per class)"),
    ),
)

HINTS = HintLadder(
    shapes="dscores has the scores' shape (N, K); dx has x's shape (N, H, W, C); the saliency "
    "drops the last axis: (N, H, W).",
    path="input_gradient returns Σ_j dscores[n, j] ∂z_j/∂x: choose dscores so that only z_k's "
    "term survives, then reduce over the channel axis with the largest absolute value.",
    formula="dscores = zeros((N, K)); dscores[:, k] = 1; s = abs(input_gradient(x, dscores))"
    ".max(axis=-1).",
)


EXERCISE = Exercise(
    name="saliency",
    topic="saliency maps from the network's own backward pass",
    functions=("saliency",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example (a linear model, two channels)", check_worked_example),
        Check("matches the reference on a small ReLU CNN", check_reference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
