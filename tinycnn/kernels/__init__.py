"""Kernels behind the layers, on the active backend: each a NumPy reference and a Numba twin.

Layers and optimizers call them through this module at call time (``kernels.im2col(...)``),
never through a name bound at import, so that the backend can be switched
(``tinycnn.runtime.set_backend`` or ``TINYCNN_BACKEND``). Each name below forwards to one of two
twins with the same signature and bit-identical results:

==================  ===============================  ======================================
kernel              NumPy reference (readable)        Numba twin (compiled loops)
==================  ===============================  ======================================
im2col, col2im      ``kernels/im2col.py``             ``kernels/im2col_numba.py``
maxpool_forward,    ``kernels/pool.py``               ``kernels/pool_numba.py``
maxpool_backward
relu_forward,       ``kernels/relu.py``               ``kernels/relu_numba.py``
relu_backward
adam_update         ``kernels/adam.py``               ``kernels/adam_numba.py``
==================  ===============================  ======================================

The twins keep the reference's order of additions, so they agree bit for bit; the tests check
it with ``assert_array_equal``. Kernels that change *what* is computed (fusing layers, Winograd)
are not twins: they live in :mod:`tinycnn.fast` and run only with ``jit_compile=True``.

The Numba modules are imported on first use, so ``import tinycnn`` does not pay for Numba.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from tinycnn import runtime
from tinycnn.kernels import im2col as _reference  # noqa: F401
from tinycnn.kernels.geometry import conv_output_size, same_padding

# Importing the submodule ``kernels/im2col.py`` binds the name ``im2col`` in this package to the
# module; it is imported above, once, so that the function ``im2col`` below replaces that binding
# for good (a later import of the submodule does not bind it again).

__all__ = [
    "col2im",
    "conv_output_size",
    "im2col",
    "adam_update",
    "implementation",
    "maxpool_backward",
    "maxpool_forward",
    "relu_backward",
    "relu_forward",
    "same_padding",
]

# kernel name -> (NumPy module, Numba module)
_MODULES: dict[str, tuple[str, str]] = {
    "im2col": ("tinycnn.kernels.im2col", "tinycnn.kernels.im2col_numba"),
    "col2im": ("tinycnn.kernels.im2col", "tinycnn.kernels.im2col_numba"),
    "maxpool_forward": ("tinycnn.kernels.pool", "tinycnn.kernels.pool_numba"),
    "maxpool_backward": ("tinycnn.kernels.pool", "tinycnn.kernels.pool_numba"),
    "relu_forward": ("tinycnn.kernels.relu", "tinycnn.kernels.relu_numba"),
    "relu_backward": ("tinycnn.kernels.relu", "tinycnn.kernels.relu_numba"),
    "adam_update": ("tinycnn.kernels.adam", "tinycnn.kernels.adam_numba"),
}
_cache: dict[tuple[str, str], Callable[..., Any]] = {}


def implementation(name: str, backend: str | None = None) -> Callable[..., Any]:
    """The function computing kernel ``name`` on ``backend`` (default: the active one).

    Raises
    ------
    ValueError
        If ``name`` is not a kernel, or has no implementation on that backend.
    """
    backend = runtime.get_backend() if backend is None else backend
    key = (name, backend)
    if key not in _cache:
        if name not in _MODULES or backend not in runtime.BACKENDS:
            raise ValueError(
                f"expected a kernel in {sorted(_MODULES)} and a backend in {runtime.BACKENDS}, "
                f"got {name!r} on {backend!r}"
            )
        module = _MODULES[name][runtime.BACKENDS.index(backend)]
        _cache[key] = getattr(importlib.import_module(module), name)
    return _cache[key]


def im2col(x, KH: int, KW: int, S: int | Sequence[int] = 1, padding: str = "valid"):
    """Every KH x KW window of ``x`` (N, H, W, C) as a row of ``cols`` (N*OH*OW, KH*KW*C).

    See :func:`tinycnn.kernels.im2col.im2col`; runs on the active backend.
    """
    return implementation("im2col")(x, KH, KW, S, padding)


def col2im(cols, x_shape, KH: int, KW: int, S: int | Sequence[int] = 1, padding: str = "valid"):
    """The adjoint of ``im2col``: rows of ``cols`` added back, returns ``dx`` (N, H, W, C).

    See :func:`tinycnn.kernels.im2col.col2im`; runs on the active backend.
    """
    return implementation("col2im")(cols, x_shape, KH, KW, S, padding)


def maxpool_forward(x, KH: int, KW: int, S: int | Sequence[int], padding: str = "valid"):
    """Window maxima ``out`` and first-maximum offsets ``argmax``, both (N, OH, OW, C).

    See :func:`tinycnn.kernels.pool.maxpool_forward`; runs on the active backend.
    """
    return implementation("maxpool_forward")(x, KH, KW, S, padding)


def maxpool_backward(dout, argmax, x_shape, KH: int, KW: int, S, padding: str = "valid"):
    """Route ``dout`` (N, OH, OW, C) to each window's winner; returns ``dx`` (N, H, W, C).

    See :func:`tinycnn.kernels.pool.maxpool_backward`; runs on the active backend.
    """
    return implementation("maxpool_backward")(dout, argmax, x_shape, KH, KW, S, padding)


def relu_forward(x):
    """``out = max(x, 0)`` and ``mask = x > 0``, both shaped like ``x``.

    See :func:`tinycnn.kernels.relu.relu_forward`; runs on the active backend.
    """
    return implementation("relu_forward")(x)


def relu_backward(dout, mask):
    """``dx = dout * mask``, shaped like ``dout``.

    See :func:`tinycnn.kernels.relu.relu_backward`; runs on the active backend.
    """
    return implementation("relu_backward")(dout, mask)


def adam_update(p, g, m, v, lr_t, beta_1: float, beta_2: float, epsilon: float) -> None:
    """One Adam step on ``p``, ``m`` and ``v`` in place (any shape, one dtype).

    See :func:`tinycnn.kernels.adam.adam_update`; runs on the active backend.
    """
    implementation("adam_update")(p, g, m, v, lr_t, beta_1, beta_2, epsilon)
