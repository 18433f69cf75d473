"""How many threads the matrix multiplies use, chosen so that a busy machine does not collapse.

Most of a training step is matrix multiplies in OpenBLAS (through NumPy), which splits each one
over a pool of threads, one per core by default. On a quiet machine that is right: two threads
nearly halve a step on two cores. On a busy one it is a trap: a multiply is done only when every
thread has finished its share, and a thread that waits for a core makes the others wait (they
spin while they wait). Measured on a 2-core machine kept busy by other work: one eager step of
the seed CNN took 75 ms with two OpenBLAS threads and 21 ms with one
(``tests/benchmarks/bench_threads_under_load.py``). The Numba kernels run on one thread for the
same reason (``tinycnn/kernels/threads_numba.py``).

So, once per process, before the first training or inference batch, :func:`configure` looks at
how busy the cores are (``/proc/stat`` over 50 ms) and limits OpenBLAS to the cores that are
idle, with `threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (what scikit-learn uses
for the same problem). The choice is made once, so two runs in one process use the same
threads (results can differ in the last bits between thread counts). It is skipped when you
choose yourself:

- ``TINYCNN_THREADS=N`` (or :func:`set_threads`) fixes N threads for the multiplies;
- ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set in the environment
  are respected as they are.

On a lab server where many students train at once, set ``TINYCNN_THREADS=1`` (or
``OPENBLAS_NUM_THREADS=1``) for everyone: each process then uses one core and none waits for
another.
"""

from __future__ import annotations

import os
import time

__all__ = ["THREADS_VAR", "configure", "describe", "idle_cores", "set_threads"]

THREADS_VAR = "TINYCNN_THREADS"
USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_choice: str | None = None  # how the thread count was chosen, once configured
_limits = None  # the threadpoolctl limiter in force


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


def set_threads(n: int) -> int:
    """Use ``n`` threads for the matrix multiplies (OpenBLAS, or any BLAS NumPy uses).

    Returns
    -------
    int
        ``n``.
    """
    global _choice, _limits
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_threads: expected a positive int, got {n!r}")
    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(limits=n, user_api="blas")
    _choice = f"{n} set by you"
    return n


def configure() -> None:
    """Choose the matrix multiplies' threads once per process (see the module docstring)."""
    global _choice
    if _choice is not None:
        return
    requested = os.environ.get(THREADS_VAR, "").strip()
    if requested:
        if not requested.isdigit() or int(requested) < 1:
            raise ValueError(f"{THREADS_VAR}: expected a positive integer, got {requested!r}")
        set_threads(int(requested))
        _choice = f"{requested} from {THREADS_VAR}"
        return
    if any(os.environ.get(name) for name in USER_VARS):
        _choice = "as the environment sets them"
        return
    cores, idle = os.cpu_count() or 1, idle_cores()
    if idle is None or idle >= cores - 0.5:
        _choice = f"all {cores} cores (idle)"
        return
    n = max(1, int(idle + 0.5))
    set_threads(n)
    _choice = f"{n}: {idle:.1f} of {cores} cores were idle"


def describe() -> str:
    """``"matrix multiplies: 2 threads (all 2 cores idle)"``: what is in force and why."""
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    threads = blas[0]["num_threads"] if blas else "?"
    why = _choice or "not chosen yet: chosen at the first batch"
    return f"matrix multiplies: {threads} threads ({why})"
