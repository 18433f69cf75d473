"""What runs when a model computes, decided here and nowhere else: backend, plan and threads.

Three independent choices decide it:

- **backend** (``"numpy"`` or ``"numba"``): which twin of each kernel (im2col, col2im, pooling,
  ReLU, the Adam update) the layers call. Both give bit-identical numbers. Chosen process-wide
  by :func:`set_backend` (or :func:`use_backend` for a block) or, for a test suite,
  ``TINYCNN_BACKEND``; the default is ``"numba"`` when Numba imports (otherwise ``"numpy"``,
  said once with a ``RuntimeWarning``). The kernels ask :func:`get_backend` at every call.
- **plan** (``"eager"`` or ``"jit_compile"``): eager, the default, runs every layer's own
  ``forward`` and ``backward``; ``model.compile(..., jit_compile=True)`` runs each
  ``Conv2D(relu)`` + ``MaxPool2D`` pair as a fused step (:mod:`tinycnn.fast.plan`), faster and
  equal to float32 rounding. It belongs to the compiled model, not to the process, and is not
  saved with it. The fused steps need Numba: on the NumPy backend a ``jit_compile`` model runs
  eager and says so.
- **threads**: how many threads the matrix multiplies (OpenBLAS, through NumPy) and the Numba
  kernels use (:class:`Threads`). Chosen once per process, the first time a model computes, and
  applied while it does: around ``fit``, ``evaluate``, ``predict`` and each
  ``Sequential.forward``/``backward`` (:meth:`Runtime.applied`). The BLAS limit (set with
  `threadpoolctl <https://github.com/joblib/threadpoolctl>`_) is restored after each call;
  Numba's count is set the first time a model computes in a thread, and kept (restoring it
  would cost a quarter of a single-image ``predict``). ``import tinycnn`` sets no thread
  count, and ``predict`` and ``forward`` run with the same threads, so they agree bit for bit.

Why choose threads at all: a matrix multiply is done only when every thread has finished its
share, and on a busy machine a thread that waits for a core makes the others wait (they spin).
Measured on a 2-core machine kept busy by other work: one eager step of the seed CNN took 75 ms
with two OpenBLAS threads and 21 ms with one (``tests/benchmarks/bench_threads_under_load.py``).
So the BLAS gets as many threads as there are idle cores (``/proc/stat`` over 50 ms), unless you
choose: ``TINYCNN_THREADS=N`` (or :func:`set_threads`), or ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` in the environment, respected as they are. The Numba
kernels run on one thread (``TINYCNN_NUMBA_THREADS=N`` asks for N): beside OpenBLAS's threads
a training step took 54 ms with Numba's parallel loops and 17.5 ms without, on two cores
(``docs/benchmarks.md``). Results can differ in the last bits between BLAS thread counts.

Examples
--------
>>> from tinycnn.runtime import Runtime, Threads
>>> Runtime("numba", jit_compile=False, threads=Threads(2, 1, "set by you")).describe()
'eager on the numba backend: every layer runs its own forward and backward; threads: 2 BLAS, 1 Numba (set by you)'
"""  # noqa: E501

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BACKENDS",
    "Runtime",
    "Step",
    "Threads",
    "get_backend",
    "numba_available",
    "set_backend",
    "set_threads",
    "thread_policy",
    "use_backend",
]

Array = NDArray[np.floating]

# -- the backend --------------------------------------------------------------------------------
BACKENDS: tuple[str, ...] = ("numpy", "numba")
DEFAULT_BACKEND = "numba"
BACKEND_VAR = "TINYCNN_BACKEND"

_backend: str | None = None  # resolved backend; None until first use or set_backend
_numba_ok: bool | None = None  # None until the first attempt to import numba


def numba_available() -> bool:
    """Whether Numba can be imported; the first failure warns once (``RuntimeWarning``)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import numba  # noqa: F401
        except Exception as error:  # ImportError, or a broken install (e.g. llvmlite mismatch)
            _numba_ok = False
            warnings.warn(
                f"tinycnn: Numba is not available ({type(error).__name__}: {error}); "
                "falling back to the NumPy backend",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            _numba_ok = True
    return _numba_ok


def _check_backend(name: str, source: str) -> str:
    """Normalise a backend name; ValueError naming the choices otherwise."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise ValueError(f"{source}: expected one of {', '.join(BACKENDS)}, got {name!r}")
    return "numpy" if key == "numba" and not numba_available() else key


def set_backend(name: str) -> str:
    """Choose the backend for every kernel call from now on.

    Parameters
    ----------
    name : {"numpy", "numba"}
        ``"numba"`` silently becomes ``"numpy"`` (after the one warning) when Numba is missing.

    Returns
    -------
    str
        The backend now active.
    """
    global _backend
    _backend = _check_backend(name, "set_backend")
    return _backend


def get_backend() -> str:
    """The active backend, ``"numpy"`` or ``"numba"`` (on first use read from
    ``TINYCNN_BACKEND``, default ``"numba"``)."""
    global _backend
    if _backend is None:
        requested = os.environ.get(BACKEND_VAR, "").strip() or DEFAULT_BACKEND
        _backend = _check_backend(requested, BACKEND_VAR)
    return _backend


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run a block with backend ``name``, then restore the previous one."""
    previous = get_backend()
    try:
        yield set_backend(name)
    finally:
        set_backend(previous)


# -- the threads ----------------------------------------------------------------------------------
THREADS_VAR = "TINYCNN_THREADS"
NUMBA_THREADS_VAR = "TINYCNN_NUMBA_THREADS"
USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Threads:
    """How many threads run: ``blas`` for the matrix multiplies (None: as the environment sets
    them), ``numba`` for the Numba kernels, and ``why`` they were chosen."""

    blas: int | None
    numba: int
    why: str

    def describe(self) -> str:
        """``"threads: 2 BLAS, 1 Numba (all 2 cores idle)"``."""
        blas = self.blas if self.blas is not None else _blas_threads_now()
        return f"threads: {blas} BLAS, {self.numba} Numba ({self.why})"

    def as_dict(self) -> dict[str, Any]:
        """``{"blas": 2, "numba": 1, "why": "..."}`` for ``history.params["threads"]``."""
        blas = self.blas if self.blas is not None else _blas_threads_now()
        return {"blas": blas, "numba": self.numba, "why": self.why}


_policy: Threads | None = None  # chosen once per process, at the first run
_blas: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries


def _positive(text: str, source: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{source}: expected a positive integer, got {text!r}")
    return int(text)


def _numba_threads() -> int:
    """``TINYCNN_NUMBA_THREADS`` (default 1)."""
    requested = os.environ.get(NUMBA_THREADS_VAR, "").strip()
    return _positive(requested, NUMBA_THREADS_VAR) if requested else 1


def idle_cores(seconds: float = 0.05) -> float | None:
    """How many cores were idle over the next ``seconds`` (from ``/proc/stat``), or None
    where that file does not exist (not Linux)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (idle1 - idle0) / (total1 - total0) * (os.cpu_count() or 1)


def _choose_blas() -> tuple[int | None, str]:
    """The matrix multiplies' threads and why: yours, or one per idle core."""
    requested = os.environ.get(THREADS_VAR, "").strip()
    if requested:
        return _positive(requested, THREADS_VAR), f"{requested} from {THREADS_VAR}"
    if any(os.environ.get(name) for name in USER_VARS):
        return None, "as the environment sets them"
    cores, idle = os.cpu_count() or 1, idle_cores()
    if idle is None or idle >= cores - 0.5:
        return None, f"all {cores} cores idle"
    n = max(1, int(idle + 0.5))
    return n, f"{idle:.1f} of {cores} cores were idle"


def thread_policy() -> Threads:
    """The threads every model computes with, chosen once per process (see the module
    docstring), so that two runs in one process use the same threads."""
    global _policy
    if _policy is None:
        blas, why = _choose_blas()
        _policy = Threads(blas, _numba_threads(), why)
    return _policy


def set_threads(n: int) -> int:
    """Run the matrix multiplies of every later ``fit``, ``evaluate``, ``predict`` and
    ``forward`` on ``n`` threads (instead of one per idle core).

    Returns
    -------
    int
        ``n``.
    """
    global _policy
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_threads: expected a positive int, got {n!r}")
    _policy = Threads(n, _numba_threads(), "set by you")
    return n


def _blas_libraries() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries NumPy loaded (found once: ~3 ms)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas


def _blas_threads_now() -> int | str:
    libraries = _blas_libraries()
    return libraries[0].get_num_threads() if libraries else "?"


_in_force = threading.local()  # per thread: the threads applied now, and Numba's count set


class _Applied:
    """Run a block with ``threads``. The BLAS limit is put back after the block (a few
    microseconds; nothing inside a block that applied it already, such as ``forward`` within
    ``predict``). Numba's count is set the first time a model computes in a thread and kept:
    setting and restoring it around every call costs ~0.05 ms, a quarter of a single-image
    ``predict``. A class, not a generator: it runs at every ``forward``."""

    __slots__ = ("blas_before", "libraries", "numba", "outer", "threads")

    def __init__(self, threads: Threads, numba: bool) -> None:
        self.threads, self.numba = threads, numba

    def __enter__(self) -> None:
        threads = self.threads
        if self.numba and getattr(_in_force, "numba", None) != threads.numba:
            _set_numba_threads(threads.numba)
        self.outer = getattr(_in_force, "threads", None)
        nested = self.outer is threads  # the process's policy is one object
        self.libraries = _blas_libraries() if threads.blas is not None and not nested else []
        self.blas_before = [library.get_num_threads() for library in self.libraries]
        for library, before in zip(self.libraries, self.blas_before, strict=True):
            if before != threads.blas:
                library.set_num_threads(threads.blas)
        _in_force.threads = threads

    def __exit__(self, *exc: object) -> None:
        _in_force.threads = self.outer
        for library, before in zip(self.libraries, self.blas_before, strict=True):
            if before != self.threads.blas:
                library.set_num_threads(before)


def _set_numba_threads(n: int) -> None:
    """Give this thread's Numba parallel loops ``n`` threads (at most what Numba started)."""
    import numba as nb

    nb.set_num_threads(min(n, nb.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    _in_force.numba = n


# -- what runs ------------------------------------------------------------------------------------
class Step(Protocol):
    """One step of a model's computation: a layer (eager) or a fused pair (``tinycnn.fast``).

    ``Sequential.forward`` runs its steps in order and ``Sequential.backward`` in reverse;
    :attr:`Runtime.fused` says which kind they are.
    """

    def forward(self, x: Array, training: bool = False) -> Array:
        """The step's output for ``x``; remembers what ``backward`` needs."""
        ...

    def backward(self, dout: Array) -> Array | None:
        """∂loss/∂x from ∂loss/∂out, filling the layers' ``grads`` (None: not computed)."""
        ...


@dataclass(frozen=True)
class Runtime:
    """How a model runs: ``backend`` ("numpy" | "numba"), ``jit_compile`` (False | True) and
    ``threads`` (None: the process's :func:`thread_policy`)."""

    backend: str
    jit_compile: bool = False
    threads: Threads | None = field(default=None)

    @classmethod
    def current(cls, jit_compile: bool = False) -> Runtime:
        """The active backend (:func:`get_backend`) with ``jit_compile``."""
        key = (get_backend(), bool(jit_compile))
        if key not in _CURRENT:  # one object per choice: asked for at every forward
            _CURRENT[key] = cls(*key)
        return _CURRENT[key]

    @property
    def fused(self) -> bool:
        """Whether fused steps run: asked for with ``jit_compile`` and possible (Numba)."""
        return self.jit_compile and self.backend == "numba"

    @property
    def thread_choice(self) -> Threads:
        """The threads this runtime runs with."""
        return self.threads if self.threads is not None else thread_policy()

    def applied(self) -> AbstractContextManager[None]:
        """Run a block (``fit``, ``evaluate``, ``predict``, ``forward``, ``backward``) with this
        runtime's threads, then restore the BLAS limit that was in force (see the module
        docstring for Numba's count)."""
        return _Applied(self.thread_choice, numba=self.backend == "numba")

    def describe(self, fused_steps: Sequence[str] = ()) -> str:
        """One line for ``summary()`` and the start of ``fit``; ``fused_steps``: one line per
        fused step of the plan (:func:`tinycnn.fast.plan.describe`)."""
        threads = self.thread_choice.describe()
        if not self.fused:
            note = " (jit_compile needs the numba backend)" if self.jit_compile else ""
            return (
                f"eager on the {self.backend} backend{note}: "
                f"every layer runs its own forward and backward; {threads}"
            )
        pairs = (
            "; ".join(fused_steps) if fused_steps else "no Conv2D(relu) + MaxPool2D pair to fuse"
        )
        return (
            f"jit_compile on the numba backend: {pairs}; other layers run as themselves; {threads}"
        )


_CURRENT: dict[tuple[str, bool], Runtime] = {}
