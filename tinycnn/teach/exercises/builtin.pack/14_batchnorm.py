"""Exercise batchnorm: BatchNormalization forward (training and inference) and backward.

Keras's ``BatchNormalization``: normalise each channel, then scale by ``gamma`` and shift by
``beta``. The last axis holds the ``C`` channels (features after Dense, channels after Conv2D);
the statistics are taken over every other axis. Shapes::

    x, out, dout      (N, C) after Dense, or (N, H, W, C) after Conv2D
    gamma, beta       (C,)      scale and shift (learned)
    moving_mean       (C,)      running averages of the batch statistics (not learned; Keras
    moving_variance   (C,)      starts them at 0 and 1)
    dx                shaped like x;  dgamma, dbeta (C,)
    M                 elements per channel: N for (N, C), N*H*W for (N, H, W, C)

Forward, with sums and means over the ``M`` elements of each channel::

    training:   mu  = (1/M) Σ x               var = (1/M) Σ (x - mu)²   biased: 1/M, not 1/(M-1)
                moving_mean     = momentum * moving_mean     + (1 - momentum) * mu
                moving_variance = momentum * moving_variance + (1 - momentum) * var
    inference:  mu  = moving_mean             var = moving_variance       (nothing is updated)

    x_hat = (x - mu) / sqrt(var + epsilon)          epsilon inside the square root
    out   = gamma * x_hat + beta

``momentum`` (Keras: 0.99) is the weight of the OLD value, so the moving statistics change by
1% per training step. PyTorch's ``momentum=0.1`` is the other way round (the weight of the new
value) and it averages the unbiased variance: that is not what Keras (or tinycnn) does.

Backward, in training mode: **derive** ``dx``, ``dgamma`` and ``dbeta`` by the chain rule.
``dgamma`` and ``dbeta`` are (C,); ``dx`` has x's shape and dtype. If mu and var were constants
the derivative of out by x would be ``gamma / sqrt(var + epsilon)``, but they are computed from
every x of the channel, so the chain rule also goes through them: find ∂loss/∂x_hat, then
∂loss/∂var and ∂loss/∂mu, then add the three paths into ``dx``, and simplify. The loss is a
batch mean: decide whether its 1/N is already inside ``dout``.

``batchnorm_backward`` gets ``x`` and recomputes mu, var and x_hat (the library's layer keeps
them from the forward pass instead).

Worked example: one channel, x = [[1], [5], [1], [5]] (N = 4, C = 1), gamma = [2], beta = [1],
moving_mean = [0], moving_variance = [1], momentum = 0.99, epsilon = 1e-3, training:
mu = 3, var = 4 (the unbiased 1/(M-1) would give 5.33), sqrt(4.001) = 2.00025,
x_hat = [-0.99987502, 0.99987502, -0.99987502, 0.99987502], out = [[-0.99975005], [2.99975005],
[-0.99975005], [2.99975005]], moving_mean = 0.99 * 0 + 0.01 * 3 = [0.03],
moving_variance = 0.99 * 1 + 0.01 * 4 = [1.03]. For the backward pass, take dout = [[1], [0],
[0], [0]] and work out dbeta and dgamma by hand (dx follows from your derivation; the check
prints it). At inference with those moving statistics, x = 1 gives 2 * (1 - 0.03) / sqrt(1.031) + 1
= 2.9106.

Check your answer: ``tinycnn exercises check batchnorm DIR``.
"""

from __future__ import annotations

import numpy as np


def batchnorm_forward(
    x, gamma, beta, moving_mean, moving_variance, training, momentum=0.99, epsilon=1e-3
):
    """Normalise ``x`` per channel; in training also update the moving statistics.

    Parameters
    ----------
    x : ndarray, shape (N, C) or (N, H, W, C)
    gamma, beta : ndarray, shape (C,)
    moving_mean, moving_variance : ndarray, shape (C,)
        The moving statistics before this step.
    training : bool
        Use (and fold into the moving statistics) the batch's mean and variance; otherwise use
        the moving statistics and change nothing.
    momentum : float
        Weight of the old value in the moving averages.
    epsilon : float
        Added to the variance inside the square root.

    Returns
    -------
    out : ndarray, shaped like x, same dtype
    moving_mean, moving_variance : ndarray, shape (C,)
        The moving statistics after this step, as new arrays (the arguments are not modified;
        at inference they are the ones given).
    """
    ### BEGIN SOLUTION
    axes = tuple(range(x.ndim - 1))  # every axis but the channels
    if training:
        mean = x.mean(axis=axes)  # (C,)
        var = ((x - mean) ** 2).mean(axis=axes)  # (C,), biased: 1/M, as Keras
        moving_mean = momentum * moving_mean + (1 - momentum) * mean
        moving_variance = momentum * moving_variance + (1 - momentum) * var
    else:
        mean, var = moving_mean, moving_variance
    x_hat = (x - mean) / np.sqrt(var + epsilon)  # (N, ..., C)
    return gamma * x_hat + beta, moving_mean, moving_variance
    ### END SOLUTION


def batchnorm_backward(dout, x, gamma, epsilon=1e-3):
    """Gradients of ``batchnorm_forward(x, gamma, beta, ..., training=True)``.

    Parameters
    ----------
    dout : ndarray, shaped like x
    x : ndarray, shape (N, C) or (N, H, W, C)
        The forward pass's input (recompute mu, var and x_hat from it).
    gamma : ndarray, shape (C,)
    epsilon : float

    Returns
    -------
    dx : ndarray, shaped like x, same dtype
    dgamma : ndarray, shape (C,), same dtype as x
    dbeta : ndarray, shape (C,), same dtype as x
    """
    ### BEGIN SOLUTION
    axes = tuple(range(x.ndim - 1))
    M = x.size // x.shape[-1]  # elements per channel
    mean = x.mean(axis=axes)  # (C,)
    var = ((x - mean) ** 2).mean(axis=axes)  # (C,)
    inv_std = 1 / np.sqrt(var + epsilon)  # (C,)
    x_hat = (x - mean) * inv_std  # (N, ..., C)
    dbeta = dout.sum(axis=axes)  # (C,)
    dgamma = (dout * x_hat).sum(axis=axes)  # (C,)
    dx = gamma * inv_std * (dout - dbeta / M - x_hat * dgamma / M)  # (N, ..., C)
    return dx, dgamma, dbeta
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
    gradients_match,
    sibling,
)

reference = sibling("reference")

EPSILON_INSIDE = "epsilon goes inside the square root: x_hat = (x - mu) / sqrt(var + epsilon)"
UNBIASED = (
    "that is the unbiased variance (divided by M - 1); Keras normalises with the biased one, "
    "var = (1/M) Σ (x - mu)²"
)
ALL_AXES = (
    "the statistics are over every axis but the last (N, H and W for images), one mean and one "
    "variance per channel: axis=tuple(range(x.ndim - 1))"
)


def _forward(student, x, gamma, beta, moving_mean, moving_variance, training, momentum, epsilon):
    args = (x, gamma, beta, moving_mean, moving_variance, training, momentum, epsilon)
    got = student.call("batchnorm_forward", *args)
    return expect_tuple(got, "batchnorm_forward", ("out", "moving_mean", "moving_variance"))


def _backward(student, dout, x, gamma, epsilon):
    got = student.call("batchnorm_backward", dout, x, gamma, epsilon)
    return expect_tuple(got, "batchnorm_backward", ("dx", "dgamma", "dbeta"))


def _normalised(x, epsilon, ddof=0, outside=False, axes=None):
    """x_hat, or what a known mistake makes of it."""
    axes = tuple(range(x.ndim - 1)) if axes is None else axes
    mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=ddof)
    return (x - mean) / (np.sqrt(var) + epsilon if outside else np.sqrt(var + epsilon))


def _check_training_out(student, x, gamma, beta, epsilon, prefix=""):
    C = x.shape[-1]
    args = (x, gamma, beta, np.zeros(C), np.ones(C), True, 0.99, epsilon)
    expected = reference.batchnorm_forward(*args)[0]
    got = _forward(student, *args)
    compare(
        prefix + "out in training",
        expected,
        got[0],
        [
            (lambda: gamma * _normalised(x, epsilon, ddof=1) + beta, UNBIASED),
            (lambda: gamma * _normalised(x, epsilon, outside=True) + beta, EPSILON_INSIDE),
            (lambda: gamma * _normalised(x, epsilon, axes=0) + beta, ALL_AXES),
            (
                lambda: _normalised(x, epsilon),
                "x_hat is right, but out = gamma * x_hat + beta (scale, then shift)",
            ),
        ],
    )


def _check_backward(student, dout, x, gamma, epsilon, prefix=""):
    dx, dgamma, dbeta = reference.batchnorm_backward(dout, x, gamma, epsilon)
    got = _backward(student, dout, x, gamma, epsilon)
    axes = tuple(range(x.ndim - 1))
    x_hat, M = _normalised(x, epsilon), x.size // x.shape[-1]
    scale = gamma / np.sqrt(x.var(axis=axes) + epsilon)
    compare(
        prefix + "dbeta",
        dbeta,
        got[2],
        [(lambda: dout.mean(axis=axes), "dbeta = Σ dout, a sum, not a mean")],
    )
    compare(
        prefix + "dgamma",
        dgamma,
        got[1],
        [
            (lambda: (dout * x).sum(axis=axes), "dgamma = Σ dout * x_hat (the normalised x)"),
            (lambda: (dout * x_hat).mean(axis=axes), "dgamma is a sum, not a mean"),
        ],
    )
    compare(
        prefix + "dx",
        dx,
        got[0],
        [
            (
                lambda: scale * dout,
                "the two extra terms of dx are missing: mu and var are computed from x, so "
                "dx = gamma / sqrt(var + epsilon) * (dout - dbeta / M - x_hat * dgamma / M)",
            ),
            (
                lambda: scale * (dout - dbeta / M),
                "the term through the variance is missing: - x_hat * dgamma / M",
            ),
            (
                lambda: scale * (dout - x_hat * dgamma / M),
                "the term through the mean is missing: - dbeta / M",
            ),
            (
                lambda: scale * (dout - (dbeta + x_hat * dgamma) / len(x)),
                "M counts every element of a channel: N*H*W for (N, H, W, C), not N",
            ),
        ],
    )


def check_shapes(student) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    gamma, zeros = np.ones(5, np.float32), np.zeros(5, np.float32)
    got = _forward(student, x, gamma, zeros, zeros, gamma, True, 0.99, 1e-3)
    backward = _backward(student, x, x, gamma, 1e-3)
    named = zip(
        ("out", "moving_mean", "moving_variance", "dx", "dgamma", "dbeta"),
        (*got, *backward),
        (x.shape, (5,), (5,), x.shape, (5,), (5,)),
        strict=True,
    )
    for name, value, shape in named:
        hint = ALL_AXES if np.shape(value) == x.shape[1:] else None
        expect_array(value, name, shape, np.float32, "x float32 (2, 3, 4, 5), C = 5", hint)


def check_worked_example(student) -> None:
    x = np.array([[1.0], [5.0], [1.0], [5.0]])
    gamma, beta = np.array([2.0]), np.array([1.0])
    _check_training_out(student, x, gamma, beta, 1e-3, "worked example: ")
    dout = np.array([[1.0], [0.0], [0.0], [0.0]])
    _check_backward(student, dout, x, gamma, 1e-3, "worked example: ")


@st.composite
def _cases(draw):
    """x (N, C) as after Dense or (N, H, W, C) as after Conv2D, gamma, beta, dout, epsilon."""
    # N*H*W >= 3: with 2 values per channel x_hat is ±sqrt(var/(var+epsilon)), nearly constant
    shape = draw(
        st.one_of(
            st.tuples(st.integers(3, 5), st.integers(1, 4)),
            st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(3, 5), st.integers(1, 3)),
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    C = shape[-1]
    x = rng.normal(rng.normal(0, 3, C), rng.uniform(0.5, 3, C), size=shape)  # per-channel scale
    gamma, beta = rng.normal(1, 0.5, C), rng.normal(0, 0.5, C)
    return x, gamma, beta, rng.standard_normal(shape), draw(st.sampled_from([1e-3, 1e-2]))


def _check_case(student, case) -> None:
    x, gamma, beta, dout, epsilon = case
    _check_training_out(student, x, gamma, beta, epsilon)
    _check_backward(student, dout, x, gamma, epsilon)


def check_reference(student) -> None:
    against_reference(
        _cases(),
        lambda case: _check_case(student, case),
        describe=lambda c: f"x of shape {c[0].shape}, epsilon = {c[4]}, training",
    )


def check_gradients(student) -> None:
    rng = np.random.default_rng(3)
    C = 2
    moving = np.zeros(C), np.ones(C)
    gradients_match(
        lambda x, gamma, beta: _forward(student, x, gamma, beta, *moving, True, 0.99, 1e-3)[0],
        lambda dout, x, gamma, beta: _backward(student, dout, x, gamma, 1e-3),
        {"gamma": rng.normal(1, 0.5, C), "beta": rng.normal(0, 0.5, C)},
        rng.normal(1.0, 2.0, size=(2, 3, 2, C)),
        "x (2, 3, 2, 2), training",
    )


def _moving_mistakes(old, batch, momentum, what, unbiased=None):
    """Fingerprints of a wrong moving-average update from ``old`` with the batch statistic."""
    mistakes = [
        (
            lambda: (1 - momentum) * old + momentum * batch,
            f"momentum the wrong way round: it is the weight of the OLD value, "
            f"{what} = momentum * {what} + (1 - momentum) * batch statistic",
        ),
        (lambda: old, f"{what} was not updated: fold in the batch statistic when training"),
        (lambda: batch, f"{what} was replaced by the batch statistic: average it in (momentum)"),
        (
            lambda: 0.99 * old + 0.01 * batch,
            "use the momentum argument (here 0.9), not Keras's default 0.99",
        ),
    ]
    if unbiased is not None:
        mistakes.append(
            (
                lambda: momentum * old + (1 - momentum) * unbiased,
                "Keras averages the biased variance (1/M) into moving_variance; the unbiased "
                "1/(M-1) is PyTorch's",
            )
        )
    return mistakes


def _check_step(student, step, x, gamma, beta, mean, var):
    """One training step from the moving statistics ``mean``, ``var``; returns the new ones."""
    momentum, epsilon, axes = 0.9, 1e-3, tuple(range(x.ndim - 1))
    expected = reference.batchnorm_forward(x, gamma, beta, mean, var, True, momentum, epsilon)
    got = _forward(student, x, gamma, beta, mean, var, True, momentum, epsilon)
    where = f"after {step} training step{'s' if step > 1 else ''} (momentum 0.9, x {x.shape})"
    started = "start from the moving statistics you are given, not from 0 and 1"
    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
    compare(
        f"moving_mean {where}",
        expected[1],
        got[1],
        [
            *_moving_mistakes(mean, batch_mean, momentum, "moving_mean"),
            (lambda: (1 - momentum) * batch_mean, started),
        ],
    )
    unbiased = x.var(axis=axes, ddof=1)
    compare(
        f"moving_variance {where}",
        expected[2],
        got[2],
        [
            *_moving_mistakes(var, batch_var, momentum, "moving_variance", unbiased),
            (lambda: momentum + (1 - momentum) * batch_var, started),
        ],
    )
    return expected[1], expected[2]


def check_moving_statistics(student) -> None:
    rng = np.random.default_rng(5)
    C = 3
    gamma, beta = rng.normal(1, 0.5, C), rng.normal(0, 0.5, C)
    mean, var = np.zeros(C), np.ones(C)  # Keras's initial values
    for step in range(1, 6):
        x = rng.normal([2.0, -1.0, 0.5], [1.0, 3.0, 0.2], size=(2, 3, 2, C))
        mean, var = _check_step(student, step, x, gamma, beta, mean, var)


def check_inference(student) -> None:
    rng = np.random.default_rng(7)
    C, epsilon = 3, 1e-3
    x = rng.normal(2.0, 3.0, size=(4, 2, 3, C))
    gamma, beta = rng.normal(1, 0.5, C), rng.normal(0, 0.5, C)
    mean, var = rng.normal(0, 1, C), rng.uniform(0.5, 2, C)
    got = _forward(student, x, gamma, beta, mean, var, False, 0.99, epsilon)
    training = reference.batchnorm_forward(x, gamma, beta, mean, var, True, 0.99, epsilon)
    compare(
        "out at inference (training=False)",
        reference.batchnorm_forward(x, gamma, beta, mean, var, False, 0.99, epsilon)[0],
        got[0],
        [
            (
                lambda: training[0],
                "the batch's statistics were used at inference: with training=False normalise "
                "with moving_mean and moving_variance",
            ),
            (
                lambda: gamma * (x - mean) / (var + epsilon) + beta,
                "moving_variance is a variance: divide by sqrt(moving_variance + epsilon)",
            ),
            (
                lambda: (x - mean) / np.sqrt(var + epsilon),
                "scale and shift at inference too: out = gamma * x_hat + beta",
            ),
        ],
    )
    _check_unchanged("moving_mean", mean, got[1], training[1])
    _check_unchanged("moving_variance", var, got[2], training[2])


def _check_unchanged(name, given, got, updated) -> None:
    compare(
        f"{name} returned at inference (must be the one given)",
        given,
        got,
        [
            (
                lambda: updated,
                "inference changes nothing: update the moving statistics only in training",
            )
        ],
    )


QUESTIONS = (
    Question(
        "worked_var",
        "One channel, x = [1, 5, 1, 5], training: what variance normalises it?",
        4,
        "Keras uses the biased variance: mean 3, (1/M) Σ (x - 3)² = (4 + 4 + 4 + 4) / 4 = 4 "
        "(1/(M-1) would give 5.33)",
    ),
    Question(
        "elements_per_channel",
        "x (2, 3, 4, 5) after a Conv2D: over how many elements (M) is each channel's mean taken?",
        24,
        "statistics run over every axis but the channels: N*H*W = 2*3*4 = 24",
    ),
    Question(
        "inference_stats",
        "At inference (training=False) BatchNormalization normalises with",
        "b",
        "the batch may be one image: inference uses the moving averages gathered in training, "
        "and updates nothing",
        choices=("the batch's mean and variance", "moving_mean and moving_variance", "0 and 1"),
    ),
)

HINTS = HintLadder(
    shapes="mu, var, dgamma, dbeta are (C,): sums over every axis but the last, M elements per "
    "channel. dx has x's shape. dbeta and dgamma are plain sums (no 1/M).",
    path="out = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + epsilon), and mu, var are "
    "themselves functions of every x of the channel. dx therefore has three paths: directly "
    "through x_hat, through mu, and through var. Find dx_hat, then dvar and dmu, then add the "
    "three contributions to dx.",
    formula="dbeta = Σ dout; dgamma = Σ dout * x_hat; dx = gamma / sqrt(var + epsilon) * (dout - "
    "dbeta / M - x_hat * dgamma / M).",
)


EXERCISE = Exercise(
    name="batchnorm",
    topic="BatchNormalization: training vs inference, backward",
    functions=("batchnorm_forward", "batchnorm_backward"),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example (training: out, dx, dgamma, dbeta)", check_worked_example),
        Check("matches the reference on drawn (N, C) and (N, H, W, C) inputs", check_reference),
        Check("gradient check (float64 central differences, training)", check_gradients),
        Check("moving statistics after several training steps", check_moving_statistics),
        Check("inference uses the moving statistics", check_inference),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
