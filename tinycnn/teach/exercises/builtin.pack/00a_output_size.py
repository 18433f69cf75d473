"""Exercise output_size: how many positions a window takes along one axis, and Keras's padding.

Before any convolution code: the arithmetic of sizes. A window of length ``K`` slides along an
axis of length ``H`` padded with ``P`` zeros on each side, moving ``S`` cells at a time. It
starts at 0 and must always lie entirely inside the padded axis. Derive, by counting the start
positions 0, S, 2S, ..., how many windows fit: that is the output length.

Keras names two paddings instead of giving ``P``:

- ``"valid"``: no padding;
- ``"same"``: as much padding as needed for ``ceil(H / S)`` outputs, ``P_total`` cells in all,
  split with the odd extra cell at the END (bottom or right), as Keras and TensorFlow do.
  Derive ``P_total`` from where the last window must end; it is never negative.

Worked numbers (vdumoulin's conv_arithmetic figures)::

    H = 4, K = 3, S = 1, P = 0  ->  2 positions        H = 5, K = 3, S = 2, P = 0  ->  2
    H = 5, K = 3, S = 1, P = 1  ->  5                  H = 5, K = 3, S = 2, P = 1  ->  3
    H = 5, K = 3, S = 1, P = 2  ->  7                  H = 6, K = 3, S = 2, P = 1  ->  3

In the last one the final padding cell is never visited: the window would stick out.

Both functions return Python ``int`` values (not floats: sizes index arrays).

``tinycnn exercises hint output_size DIR`` opens hints one level at a time.

Check your answer: ``tinycnn exercises check output_size DIR``.
"""

from __future__ import annotations


def output_length(H, K, S, P):
    """How many positions a window of length ``K`` takes along an axis of length ``H``.

    Parameters
    ----------
    H, K, S, P : int
        Input length, window length, stride (>= 1), zeros added on EACH side.

    Returns
    -------
    int
        The output length (0 if the window does not fit at all).
    """
    ### BEGIN SOLUTION
    return max((H + 2 * P - K) // S + 1, 0)
    ### END SOLUTION


def same_padding(H, K, S):
    """Zeros ``(before, after)`` that Keras's ``"same"`` adds along an axis of length ``H``.

    Parameters
    ----------
    H, K, S : int
        Input length, window length, stride.

    Returns
    -------
    (before, after) : tuple of int
        ``before + after`` cells in all, the odd one ``after``.
    """
    ### BEGIN SOLUTION
    OH = -(-H // S)  # ceil(H / S) outputs
    total = max((OH - 1) * S + K - H, 0)  # the last window ends at (OH - 1)*S + K
    return total // 2, total - total // 2
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
import numpy as np  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinycnn.kernels.geometry import same_padding as reference_same_padding  # noqa: E402
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    HintLadder,
    Question,
    against_reference,
    compare,
    plotted,
)

WORKED = [(4, 3, 1, 0, 2), (5, 3, 1, 1, 5), (5, 3, 1, 2, 7), (5, 3, 2, 0, 2), (5, 3, 2, 1, 3),
          (6, 3, 2, 1, 3)]  # fmt: skip


def _length(H, K, S, P):
    return max((H + 2 * P - K) // S + 1, 0)


def _length_mistakes(H, K, S, P):
    return [
        (
            lambda: -(-(H + 2 * P - K) // S) + 1,
            "rounded up: a window must fit entirely, so count start positions with floor "
            "((H + 2P - K) / S); a last partial step gives no output",
        ),
        (lambda: (H + 2 * P - K) // S, "the first window, at position 0, counts too"),
        (lambda: (H + P - K) // S + 1, "padding goes on BOTH sides: the padded length is H + 2P"),
        (lambda: (H - K) // S + 1, "padding ignored: the window slides over H + 2P cells"),
        (lambda: H + 2 * P - K + 1, "stride ignored: the window moves S cells at a time"),
    ]


def _check_length(student, H, K, S, P):
    got = student.call("output_length", H, K, S, P)
    if not isinstance(got, int):
        raise CheckError(
            f"output_length({H}, {K}, {S}, {P}) should return an int, got "
            f"{type(got).__name__} {got!r}",
            "use // (floor division) for sizes: / gives a float"
            if isinstance(got, float)
            else None,
        )
    compare(f"output_length(H={H}, K={K}, S={S}, P={P})", _length(H, K, S, P), got,
            _length_mistakes(H, K, S, P))  # fmt: skip


def _check_padding(student, H, K, S):
    got = student.call("same_padding", H, K, S)
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckError(f"same_padding({H}, {K}, {S}) should return a tuple (before, after)")
    before, after = reference_same_padding(H, K, S)
    unclipped = (-(-H // S) - 1) * S + K - H  # may be negative: windows that already fit
    mistakes = [
        (lambda: (after, before), "the odd extra cell goes at the END (bottom/right), as in Keras"),
        (
            lambda: ((K - 1) // 2, K - 1 - (K - 1) // 2),
            "K - 1 cells is the stride-1 answer; with stride S the last of the ceil(H / S) "
            "windows must end inside the padded axis: (OH - 1)*S + K - H",
        ),
        (
            lambda: (unclipped // 2, unclipped - unclipped // 2),
            "the padding is never negative: when the windows already fit, add 0 (max(..., 0))",
        ),
    ]
    compare(f"same_padding(H={H}, K={K}, S={S})", (before, after), np.array(got), mistakes)


def check_types(student) -> None:
    _check_length(student, 7, 3, 2, 0)
    got = student.call("same_padding", 7, 3, 2)
    if not isinstance(got, tuple) or not all(isinstance(v, int) for v in got):
        raise CheckError(f"same_padding(7, 3, 2) should return a tuple of two ints, got {got!r}")


def check_worked_example(student) -> None:
    for H, K, S, P, _ in WORKED:
        _check_length(student, H, K, S, P)


@st.composite
def _sizes(draw):
    K, S = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return draw(st.integers(1, 20)), K, S, draw(st.integers(0, 3))


def check_reference(student) -> None:
    against_reference(_sizes(), lambda c: _check_length(student, *c),
                      describe=lambda c: f"H, K, S, P = {c}")  # fmt: skip


def check_same_padding(student) -> None:
    against_reference(_sizes(), lambda c: _check_padding(student, *c[:3]),
                      describe=lambda c: f"H, K, S = {c[:3]}")  # fmt: skip


QUESTIONS = (
    Question(
        "worked_stride_2",
        "H = 7, K = 3, S = 2, P = 1: how many output positions?",
        4,
        "the padded axis has 9 cells; windows start at 0, 2, 4 and 6 (6 + 3 = 9 still fits): 4",
    ),
    Question(
        "same_after",
        "Keras 'same', H = 7, K = 4, S = 1: how many zeros go AFTER the axis (bottom/right)?",
        2,
        "7 outputs need (7 - 1)*1 + 4 - 7 = 3 cells of padding; the odd one goes after: 1 + 2",
    ),
    Question(
        "same_stride_2",
        "Keras 'same', H = 28, K = 3, S = 2: how many outputs?",
        14,
        "'same' gives ceil(H / S) = ceil(28 / 2) = 14 outputs, whatever K",
    ),
)

HINTS = HintLadder(
    shapes="Everything is a count along one axis: the padded axis has H + 2P cells; the window "
    "covers K of them and starts at multiples of S. Return ints.",
    path="List the start positions 0, S, 2S, ...; the last valid start s must satisfy s + K <= "
    "H + 2P. Count the multiples of S from 0 to H + 2P - K. For 'same', ask where the last of "
    "the ceil(H / S) windows ends, and pad up to there (hint-output_size.png: a 3 x 3 kernel "
    "with stride 2 and padding 1).",
    formula="output_length = floor((H + 2P - K) / S) + 1 (0 if negative); same: OH = ceil(H / S), "
    "total = max((OH - 1)*S + K - H, 0), before = total // 2, after = total - before.",
    picture=plotted("plot_sliding_kernel", strides=2, padding=1),
)


EXERCISE = Exercise(
    name="output_size",
    topic="output-size arithmetic: strides, padding, Keras's 'same'",
    functions=("output_length", "same_padding"),
    checks=(
        Check("returns ints", check_types),
        Check("worked examples (conv_arithmetic's six cases)", check_worked_example),
        Check("output_length matches the formula on drawn sizes", check_reference),
        Check("same_padding matches Keras on drawn sizes", check_same_padding),
    ),
    questions=QUESTIONS,
    hints=HINTS,
)
### END HIDDEN TESTS
