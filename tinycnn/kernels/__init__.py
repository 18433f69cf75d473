"""Kernels behind the layers, on the active backend: im2col/col2im and max-pooling.

Layers call them through this module at call time (``kernels.im2col(...)``), never through a
name bound at import, so that the backend can be switched (``tinycnn.config.set_backend`` or
``TINYCNN_BACKEND``). Each name below forwards to one of two twins with the same signature:

==================  =================================  ======================================
kernel              NumPy reference (readable)          Numba twin (fast, bit-identical)
==================  =================================  ======================================
im2col, col2im      ``kernels/im2col.py``               ``kernels/im2col_numba.py``
maxpool_forward,    ``kernels/pool.py``                 ``kernels/pool_numba.py``
maxpool_backward
==================  =================================  ======================================

Some fast kernels fuse several NumPy lines of a layer or optimizer into one loop (ReLU's mask
and output in one pass, a bias gradient, the Adam update, a convolution's bias, ReLU and
max-pooling in one pass for ``tinycnn.fast.fused``, the Winograd transforms of
``tinycnn.fast.winograd``, the one-channel convolution of ``tinycnn.fast.direct``). They have no
separate reference: the readable lines stay in the layer, which asks :func:`numba_kernel` for
the fused version and uses it only when the Numba backend is active::

    relu_forward = kernels.numba_kernel("relu_forward")   # None on the NumPy backend

The Numba modules are imported on first use, so ``import tinycnn`` does not pay for Numba.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from tinycnn import config
from tinycnn.kernels.im2col import conv_output_size, same_padding

__all__ = [
    "col2im",
    "conv_output_size",
    "im2col",
    "implementation",
    "maxpool_backward",
    "maxpool_forward",
    "numba_kernel",
    "same_padding",
]

# kernel name -> (NumPy module, Numba module); the NumPy module is None for fused Numba kernels.
_MODULES: dict[str, tuple[str | None, str]] = {
    "im2col": ("tinycnn.kernels.im2col", "tinycnn.kernels.im2col_numba"),
    "col2im": ("tinycnn.kernels.im2col", "tinycnn.kernels.im2col_numba"),
    "maxpool_forward": ("tinycnn.kernels.pool", "tinycnn.kernels.pool_numba"),
    "maxpool_backward": ("tinycnn.kernels.pool", "tinycnn.kernels.pool_numba"),
    "relu_forward": (None, "tinycnn.kernels.relu_numba"),
    "relu_backward": (None, "tinycnn.kernels.relu_numba"),
    "bias_relu_forward": (None, "tinycnn.kernels.relu_numba"),
    "relu_backward_bias_grad": (None, "tinycnn.kernels.relu_numba"),
    "bias_grad": (None, "tinycnn.kernels.bias_grad_numba"),
    "adam_update": (None, "tinycnn.kernels.adam_numba"),
    "bias_relu_maxpool_forward": (None, "tinycnn.fast.fused_numba"),
    "maxpool_relu_backward_bias_grad": (None, "tinycnn.fast.fused_numba"),
    **{
        name: (None, "tinycnn.fast.winograd_numba")
        for name in (
            "winograd_input_transform",
            "winograd_kernel_transform",
            "winograd_bias_relu_maxpool",
            "winograd_pool_backward",
            "winograd_kernel_grad",
            "winograd_input_grad",
        )
    },
    "conv3x3_relu_maxpool_forward": (None, "tinycnn.fast.direct_numba"),
    "conv3x3_relu_maxpool_backward": (None, "tinycnn.fast.direct_numba"),
}
_cache: dict[tuple[str, str], Callable[..., Any]] = {}


def implementation(name: str, backend: str | None = None) -> Callable[..., Any]:
    """The function computing kernel ``name`` on ``backend`` (default: the active one).

    Raises
    ------
    ValueError
        If ``name`` is not a kernel, or has no implementation on that backend.
    """
    backend = config.get_backend() if backend is None else backend
    key = (name, backend)
    if key not in _cache:
        if name not in _MODULES or backend not in config.BACKENDS:
            raise ValueError(
                f"expected a kernel in {sorted(_MODULES)} and a backend in {config.BACKENDS}, "
                f"got {name!r} on {backend!r}"
            )
        module = _MODULES[name][config.BACKENDS.index(backend)]
        if module is None:
            raise ValueError(f"kernel {name!r} exists only on the numba backend")
        _cache[key] = getattr(importlib.import_module(module), name)
    return _cache[key]


def numba_kernel(name: str) -> Callable[..., Any] | None:
    """The fused Numba kernel ``name`` when the Numba backend is active, else None."""
    if config.get_backend() != "numba":
        return None
    return implementation(name, "numba")


def im2col(x, KH: int, KW: int, S: int | Sequence[int] = 1, padding: str = "valid", out=None):
    """Every KH x KW window of ``x`` (N, H, W, C) as a row of ``cols`` (N*OH*OW, KH*KW*C).

    See :func:`tinycnn.kernels.im2col.im2col` (``out``: a buffer to fill); runs on the active
    backend.
    """
    return implementation("im2col")(x, KH, KW, S, padding, out)


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
