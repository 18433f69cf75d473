"""The checks a convolution exercise runs, shared by the naive (loop) and the im2col versions.

``conv2d_naive_forward`` and ``conv2d_forward`` compute the same function, as do
``conv2d_naive_backward`` and ``conv2d_backward``: each pair is graded by the same checks,
with the same fingerprints of known mistakes, on the student's function of the given name.
``forward_checks(name, reference_forward)`` and ``backward_checks(name, reference_forward,
reference_backward)`` return them in grading order (shapes and dtype, the worked example, the
reference on hypothesis-drawn configurations, and for the backward a float64 gradient check).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from tinycnn.kernels.geometry import output_hw, pad_amounts, pad_input
from tinycnn.teach.exercises.grading import (
    Check,
    against_reference,
    compare,
    expect_array,
    expect_tuple,
    gradients_match,
)
from tinycnn.testing.strategies import ConvConfig, conv_configs

__all__ = ["backward_checks", "forward_checks", "overwritten_dx"]

Forward = Callable[..., np.ndarray]
OVERWRITTEN = (
    "overlapping windows must ADD into dx (+=); assigning (=) keeps only the last window's "
    "contribution"
)
SWAPPED_DW = "dw has KH and KW swapped: it has w's shape (KH, KW, C, F), row p, column q"
MISLAID_DW = (
    "dw is laid out wrong: dout2d.T @ cols is (F, KH*KW*C); the kernel's rows are (p, q, c), so "
    "reshape the (KH*KW*C, F) product cols.T @ dout2d"
)


def _forward_mistakes(forward: Forward, x, w, b, S, padding):
    KH, KW, C, F = w.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    return [
        (lambda: forward(x, w, np.zeros_like(b), S, padding), "the bias is missing: add b[f]"),
        (
            lambda: forward(x, w[::-1, ::-1], b, S, padding),
            "the kernel is flipped (textbook convolution); Keras's Conv2D does not flip it",
        ),
        (
            lambda: forward(x, w.transpose(1, 0, 2, 3), b, S, padding),
            "the kernel is transposed (KH and KW swapped): w[p, q] is row p, column q",
        ),
        (
            lambda: forward(x, w.reshape(F, KH * KW * C).T.reshape(KH, KW, C, F), b, S, padding),
            "w.reshape(F, -1).T mixes up the kernel's entries; w.reshape(KH*KW*C, F) keeps the "
            "(p, q, c) row order that im2col's columns use",
        ),
        (
            lambda: forward(x, w, b, (1, 1), "valid")[:, :OH, :OW],
            "the stride is ignored: window (i, j) starts at row SH*i and column SW*j",
        ),
        (
            lambda: forward(x, w, b, S, "valid"),
            "the padding is ignored: 'same' pads x first (pad_input), then slides the window",
        ),
    ]


def _compare_forward(student, name, forward, what, x, w, b, S, padding):
    args = (x, w, b, S, padding)
    compare(what, forward(*args), student.call(name, *args), _forward_mistakes(forward, *args))


def _forward_shapes(student, name) -> None:
    x = np.ones((2, 6, 5, 3), dtype=np.float32)
    w, b = np.ones((3, 2, 3, 4), dtype=np.float32), np.ones(4, dtype=np.float32)
    out = student.call(name, x, w, b, (1, 1), "valid")
    where = "x (2, 6, 5, 3) and w (3, 2, 3, 4) float32, 'valid'"
    expect_array(out, "out (N, OH, OW, F)", (2, 4, 4, 4), np.float32, where)


def _forward_worked(student, name, forward) -> None:
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    w = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(2, 2, 1, 1)
    what = "out of the worked example (19 25 / 37 43)"
    _compare_forward(student, name, forward, what, x, w, np.zeros(1), (1, 1), "valid")


def _forward_case(student, config: ConvConfig, name, forward) -> None:
    rng = np.random.default_rng(config.seed)
    w = rng.standard_normal((config.KH, config.KW, config.C, config.F))
    b = rng.standard_normal(config.F)
    args = (config.x(), w, b, (config.SH, config.SW), config.padding)
    _compare_forward(student, name, forward, "out", *args)


def _first_checks(shapes, worked, case) -> tuple[Check, ...]:
    """Shapes and dtypes, the worked example, then ``case(student, config)`` on drawn
    configurations: the first three checks of the forward and of the backward exercises."""
    return (
        Check("shapes and dtypes", shapes),
        Check("worked example", worked),
        Check(
            "matches the reference on drawn configurations",
            lambda student: against_reference(conv_configs(), partial(case, student)),
        ),
    )


def forward_checks(name: str, forward: Forward) -> tuple[Check, ...]:
    """The checks of a Conv2D forward exercise whose function is called ``name``."""
    return _first_checks(
        partial(_forward_shapes, name=name),
        partial(_forward_worked, name=name, forward=forward),
        partial(_forward_case, name=name, forward=forward),
    )


def overwritten_dx(dout, x, w, S, padding, per_filter=False):
    """dx from loops that assign (``=``) where overlapping windows must add (a mistake): the
    last window wins, and with ``per_filter`` the last filter of it too."""
    KH, KW, _, F = w.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    (top, _), (left, _) = pad_amounts(x.shape, KH, KW, S, padding)
    dx_pad = np.zeros(pad_input(x, KH, KW, S, padding).shape)
    for n, i, j in np.ndindex(x.shape[0], OH, OW):
        rows, cols = slice(S[0] * i, S[0] * i + KH), slice(S[1] * j, S[1] * j + KW)
        last = dout[n, i, j, F - 1] * w[..., F - 1]  # (KH, KW, C)
        dx_pad[n, rows, cols, :] = last if per_filter else w @ dout[n, i, j]
    return dx_pad[:, top : top + x.shape[1], left : left + x.shape[2], :]


def _backward_mistakes(backward, dout, x, w, S, padding):
    N, F = x.shape[0], w.shape[3]
    KH, KW, C, _ = w.shape
    dx, dw, db = backward(dout, x, w, S, padding)
    return {
        "db": [
            (lambda: db / (dout.size // F), "db is a sum over n, i, j, not a mean"),
            (lambda: db / N, "db is a plain sum: the 1/N of the loss is already in dout"),
        ],
        "dw": [
            (lambda: dw / N, "dw is a plain sum over the batch: the 1/N is already in dout"),
            (lambda: dw.transpose(1, 0, 2, 3), SWAPPED_DW),
            (lambda: dw.reshape(-1, F).T.reshape(KH, KW, C, F), MISLAID_DW),
        ],
        "dx": [
            (
                lambda: backward(dout, x, w[::-1, ::-1], S, padding)[0],
                "dx used a flipped kernel: each input sends dout back through the same w[p, q] "
                "that multiplied it, no flip",
            ),
            (lambda: overwritten_dx(dout, x, w, S, padding), OVERWRITTEN),
            (lambda: overwritten_dx(dout, x, w, S, padding, per_filter=True), OVERWRITTEN),
        ],
    }


def _compare_backward(student, name, backward, dout, x, w, S, padding, prefix=""):
    expected = backward(dout, x, w, S, padding)
    got = expect_tuple(student.call(name, dout, x, w, S, padding), name, ("dx", "dw", "db"))
    mistakes = _backward_mistakes(backward, dout, x, w, S, padding)
    for what, e, g in zip(("dx", "dw", "db"), expected, got, strict=True):
        compare(prefix + what, e, g, mistakes[what])


def _backward_shapes(student, name) -> None:
    x = np.ones((2, 6, 5, 3), dtype=np.float32)
    w = np.ones((3, 2, 3, 4), dtype=np.float32)
    got = expect_tuple(
        student.call(name, np.ones((2, 4, 4, 4), np.float32), x, w, (1, 1), "valid"),
        name,
        ("dx", "dw", "db"),
    )
    where = (
        "x (2, 6, 5, 3), w (3, 2, 3, 4), all float32 (each gradient like what it differentiates)"
    )
    wrong_dw = {(4, 3, 2, 3): MISLAID_DW, (2, 3, 3, 4): SWAPPED_DW}
    for what, value, shape in zip(("dx", "dw", "db"), got, (x.shape, w.shape, (4,)), strict=True):
        hint = wrong_dw.get(np.shape(value)) if what == "dw" else None
        expect_array(value, what, shape, np.float32, where, hint)


def _backward_worked(student, name, backward) -> None:
    dout = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    x, w = np.ones((1, 2, 2, 1)), np.full((1, 1, 1, 1), 2.0)
    _compare_backward(student, name, backward, dout, x, w, (1, 1), "valid", "worked example: ")


def _backward_case(student, config: ConvConfig, name, forward, backward) -> None:
    rng = np.random.default_rng(config.seed)
    w = rng.standard_normal((config.KH, config.KW, config.C, config.F))
    x, S = config.x(), (config.SH, config.SW)
    dout = rng.standard_normal(forward(x, w, np.zeros(config.F), S, config.padding).shape)
    _compare_backward(student, name, backward, dout, x, w, S, config.padding)


def _gradients(student, name, forward) -> None:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((2, 3, 2, 3)), np.ones(3)
    gradients_match(
        lambda x, w, b: forward(x, w, b, (2, 1), "same"),
        lambda dout, x, w, b: student.call(name, dout, x, w, (2, 1), "same"),
        {"w": w, "b": b},
        x,
        "x (2, 5, 4, 2), w (2, 3, 2, 3), strides (2, 1), 'same'",
    )


def backward_checks(name: str, forward: Forward, backward: Callable) -> tuple[Check, ...]:
    """The checks of a Conv2D backward exercise whose function is called ``name``."""
    return (
        *_first_checks(
            partial(_backward_shapes, name=name),
            partial(_backward_worked, name=name, backward=backward),
            partial(_backward_case, name=name, forward=forward, backward=backward),
        ),
        Check(
            "gradient check (float64 central differences)",
            partial(_gradients, name=name, forward=forward),
        ),
    )
