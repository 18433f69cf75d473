"""How many threads a Numba kernel call may use: all for big work, one for small work.

The kernels run in parallel over the batch axis (``prange``). For small work, such as one image
at predict time, waking the second thread costs more than the work itself, and on a busy
machine it can cost a whole time slice. ``run`` calls a compiled parallel loop with one thread
below ``PARALLEL_MIN_SIZE`` elements (the same compiled code, so the same results). Switching
costs ~17 us per call (``set_num_threads`` twice), so it is skipped when Numba runs on one thread.

How many threads Numba has in the first place is not decided here: :mod:`tinycnn.runtime`
chooses it (one by default, ``TINYCNN_NUMBA_THREADS=N`` asks for N) and applies it around
``fit``, ``evaluate`` and ``predict``. Nothing is set when this module is imported.

Why one by default: measured on the
2-core machine, quiet, seed CNN at batch 64: with Numba's parallel loops beside OpenBLAS's two
threads a training step took 54 ms and a single-image predict 8 ms; with Numba on one thread and
OpenBLAS keeping two, 17.5 ms and 0.27 ms (docs/changelog.md, the run of 2026-11-22 01:49). The two
thread pools spin against each other on two cores; the matrix multiplies, which are most of the
arithmetic, keep both cores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba as nb

__all__ = ["PARALLEL_MIN_SIZE", "run"]

PARALLEL_MIN_SIZE = 1 << 15  # elements touched by the call


def run(loop: Callable[..., Any], size: int, *args: Any) -> None:
    """Call ``loop(*args)``, on one thread when ``size < PARALLEL_MIN_SIZE``."""
    if size >= PARALLEL_MIN_SIZE or nb.get_num_threads() == 1:  # no switch needed
        loop(*args)
        return
    previous = nb.get_num_threads()
    nb.set_num_threads(1)
    try:
        loop(*args)
    finally:
        nb.set_num_threads(previous)
