"""Exercise conv2d_backward: the gradients of a convolution with respect to x, w and b.

Given ``dout`` = ∂loss/∂out for ``out = conv2d_forward(x, w, b, S, padding)``::

    cols   = im2col(x, KH, KW, S, padding)        (N*OH*OW, KH*KW*C)
    dout2d = dout.reshape(N*OH*OW, F)             (N*OH*OW, F)
    dw = (cols.T @ dout2d).reshape(KH, KW, C, F)  (KH, KW, C, F)
    db = Σ_nij dout[n,i,j,:]                      (F,)
    dx = col2im(dout2d @ w2d.T, x.shape, KH, KW, S, padding)     (N, H, W, C)

with ``w2d = w.reshape(KH*KW*C, F)``. Each is shaped like what it is the gradient of. ``db`` is a
plain sum: any 1/N of a batch-mean loss is already inside ``dout``.

Worked example: x = ones (1, 2, 2, 1), w = ones (1, 1, 1, 1), dout = [[1, 2], [3, 4]]:
dw = 1+2+3+4 = 10, db = 10, dx = dout.

Check your answer: ``tinycnn exercises check conv2d_backward DIR``.
"""

from __future__ import annotations

from tinycnn.kernels.im2col import col2im, im2col


def conv2d_backward(dout, x, w, S=(1, 1), padding="valid"):
    """Gradients of ``conv2d_forward(x, w, b, S, padding)``.

    Parameters
    ----------
    dout : ndarray, shape (N, OH, OW, F)
    x : ndarray, shape (N, H, W, C)
    w : ndarray, shape (KH, KW, C, F)
    S : tuple of int, (SH, SW)
    padding : {"valid", "same"}

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
    dw : ndarray, shape (KH, KW, C, F)
    db : ndarray, shape (F,)
    """
    ### BEGIN SOLUTION
    KH, KW, C, F = w.shape
    cols = im2col(x, KH, KW, S, padding)  # (N*OH*OW, KH*KW*C)
    dout2d = dout.reshape(-1, F)  # (N*OH*OW, F)
    dw = (cols.T @ dout2d).reshape(KH, KW, C, F)
    db = dout2d.sum(axis=0)
    dx = col2im(dout2d @ w.reshape(-1, F).T, x.shape, KH, KW, S, padding)
    return dx, dw, db
    ### END SOLUTION


### BEGIN HIDDEN TESTS
import numpy as np  # noqa: E402

from tinycnn.teach.exercises import reference  # noqa: E402
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    FunctionLayer,
    against_reference,
    compare,
)
from tinycnn.testing.gradcheck import gradcheck  # noqa: E402
from tinycnn.testing.strategies import ConvConfig, conv_configs  # noqa: E402

__all__: list[str] = []  # documented by its docstring and the exercises page, not the API


def _mistakes(dout, x, w, S, padding):
    N = x.shape[0]
    F = w.shape[3]
    dx, dw, db = reference.conv2d_backward(dout, x, w, S, padding)
    flipped = reference.conv2d_backward(dout, x, w[::-1, ::-1], S, padding)[0]
    return {
        "db": [
            (lambda: db / (dout.size // F), "db is a sum over n, i, j, not a mean"),
            (lambda: db / N, "db is a plain sum: the 1/N of the loss is already in dout"),
        ],
        "dw": [
            (lambda: dw / N, "dw is a plain sum over the batch: the 1/N is already in dout"),
            (lambda: dw.transpose(1, 0, 2, 3), "dw has KH and KW swapped"),
        ],
        "dx": [
            (lambda: flipped, "dx used a flipped kernel: col2im(dout2d @ w2d.T) needs no flip"),
        ],
    }


def _check(student, dout, x, w, S, padding, prefix=""):
    expected = reference.conv2d_backward(dout, x, w, S, padding)
    got = student.call("conv2d_backward", dout, x, w, S, padding)
    if not isinstance(got, tuple) or len(got) != 3:
        raise CheckError("conv2d_backward should return a tuple (dx, dw, db)")
    mistakes = _mistakes(dout, x, w, S, padding)
    for name, e, g in zip(("dx", "dw", "db"), expected, got, strict=True):
        compare(prefix + name, e, g, mistakes[name])


def check_shapes(student) -> None:
    x = np.ones((2, 6, 5, 3), dtype=np.float32)
    w = np.ones((3, 2, 3, 4), dtype=np.float32)
    got = student.call("conv2d_backward", np.ones((2, 4, 4, 4), np.float32), x, w, (1, 1), "valid")
    if not isinstance(got, tuple) or len(got) != 3:
        raise CheckError("conv2d_backward should return a tuple (dx, dw, db)")
    for name, value, shape in zip(("dx", "dw", "db"), got, (x.shape, w.shape, (4,)), strict=True):
        if np.shape(value) != shape:
            raise CheckError(
                f"x (2, 6, 5, 3), w (3, 2, 3, 4): {name} should have shape {shape} "
                f"(like what it is the gradient of), got {np.shape(value)}"
            )


def check_worked_example(student) -> None:
    dout = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    _check(
        student,
        dout,
        np.ones((1, 2, 2, 1)),
        np.ones((1, 1, 1, 1)),
        (1, 1),
        "valid",
        "worked example: ",
    )


def _arrays(config: ConvConfig):
    rng = np.random.default_rng(config.seed)
    w = rng.standard_normal((config.KH, config.KW, config.C, config.F))
    x = config.x()
    out = reference.conv2d_forward(x, w, np.zeros(config.F), (config.SH, config.SW), config.padding)
    return rng.standard_normal(out.shape), x, w


def check_reference(student) -> None:
    def case(config):
        dout, x, w = _arrays(config)
        _check(student, dout, x, w, (config.SH, config.SW), config.padding)

    against_reference(conv_configs(), case)


def check_gradients(student) -> None:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((2, 3, 2, 3)), np.ones(3)
    layer = FunctionLayer(
        lambda x, w, b: reference.conv2d_forward(x, w, b, (2, 1), "same"),
        lambda dout, x, w, b: student.call("conv2d_backward", dout, x, w, (2, 1), "same"),
        {"w": w, "b": b},
    )
    result = gradcheck(layer, x)
    if not result.ok:
        raise CheckError(f"x (2, 5, 4, 2), w (2, 3, 2, 3), strides (2, 1), 'same':\n{result}")


EXERCISE = Exercise(
    name="conv2d_backward",
    topic="Conv2D backward: dx with col2im, dw, db",
    functions=("conv2d_backward",),
    checks=(
        Check("shapes and dtypes", check_shapes),
        Check("worked example", check_worked_example),
        Check("matches the reference on drawn configurations", check_reference),
        Check("gradient check (float64 central differences)", check_gradients),
    ),
)
### END HIDDEN TESTS
