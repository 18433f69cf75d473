"""Scratch arrays that a layer reuses from one training step to the next.

A training step of the seed CNN makes ~35 MB of temporaries that never leave their layer: the
im2col matrices, the convolutions' outputs before ReLU and pooling, and their gradients. Made
afresh each step, such large arrays may be mapped from and returned to the operating system
every time (glibc's ``malloc`` serves large requests with ``mmap``), and touching new pages costs
page faults: some training runs on the 2-core machine took ~875 minor page faults per step, and
none with a :class:`Workspace`, which keeps one array per purpose and hands out views of it
(the effect on the step time was within the machine's run-to-run noise; docs/benchmarks.md).

Only arrays that no caller keeps go here: a layer's output or input gradient is always a fresh
array, because the caller may hold on to it (``predict`` collects every batch's output).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["Workspace", "check_out"]


class Workspace:
    """Named scratch arrays, grown when needed and reused otherwise.

    ``ws.array("cols", (R, K), np.float32)`` returns a C-contiguous array of that shape whose
    contents are undefined; the next call with the same name may return the same memory, so the
    array must not be used after that call.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray:
        """A scratch array of ``shape`` and ``dtype`` (a view of the kept memory for ``name``)."""
        dtype = np.dtype(dtype)
        size = math.prod(shape)
        kept = self._arrays.get(name)
        if kept is None or kept.dtype != dtype or kept.size < size:
            kept = self._arrays[name] = np.empty(size, dtype=dtype)
        return kept[:size].reshape(shape)

    def __deepcopy__(self, memo: dict) -> Workspace:
        """Copies of a model start with an empty workspace (scratch contents are never state)."""
        return Workspace()

    def nbytes(self) -> int:
        """Bytes held."""
        return sum(a.nbytes for a in self._arrays.values())


def check_out(out: NDArray, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray:
    """``out`` itself if it is a C-contiguous array of ``shape``'s size and ``dtype``, as the
    ``out=`` of a fast-path function must be (a workspace array); otherwise a ValueError naming
    what came."""
    if (
        not isinstance(out, np.ndarray)
        or out.size != math.prod(shape)
        or out.dtype != dtype
        or not out.flags.c_contiguous
    ):
        raise ValueError(
            f"out: expected a C-contiguous {np.dtype(dtype)} array of shape {shape}, got "
            f"{type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}"
        )
    return out
