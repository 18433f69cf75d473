"""The matrix multiplies' threads: chosen once per process from the idle cores, unless the user
chose (``TINYCNN_THREADS``, ``OPENBLAS_NUM_THREADS``...)."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from tinycnn import threads


def blas_threads() -> int:
    return next(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not chosen yet, with no thread variables; limits restored after."""
    monkeypatch.setattr(threads, "_choice", None)
    for name in (threads.THREADS_VAR, *threads.USER_VARS):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=None):  # restores the original limits on exit
        yield monkeypatch


def test_a_busy_machine_gets_one_thread_per_idle_core(fresh):
    fresh.setattr(threads.os, "cpu_count", lambda: 4)
    fresh.setattr(threads, "idle_cores", lambda seconds=0.05: 1.7)
    threads.configure()
    assert blas_threads() == 2
    assert "2: 1.7 of 4 cores were idle" in threads.describe()
    fresh.setattr(threads, "idle_cores", lambda seconds=0.05: 0.2)
    threads.configure()  # chosen once per process: a second call changes nothing
    assert blas_threads() == 2


def test_a_quiet_machine_keeps_every_core(fresh):
    before = blas_threads()
    fresh.setattr(threads, "idle_cores", lambda seconds=0.05: float(threads.os.cpu_count() or 1))
    threads.configure()
    assert blas_threads() == before and "cores (idle)" in threads.describe()


def test_the_users_choice_wins(fresh):
    fresh.setenv("OPENBLAS_NUM_THREADS", "3")
    fresh.setattr(threads, "idle_cores", lambda seconds=0.05: pytest.fail("not asked"))
    threads.configure()
    assert "as the environment sets them" in threads.describe()
    fresh.setattr(threads, "_choice", None)
    fresh.setenv(threads.THREADS_VAR, "1")
    threads.configure()
    assert blas_threads() == 1 and "1 from TINYCNN_THREADS" in threads.describe()


def test_bad_requests_are_refused(fresh):
    fresh.setenv(threads.THREADS_VAR, "two")
    with pytest.raises(ValueError, match="TINYCNN_THREADS: expected a positive integer, got 'two'"):
        threads.configure()
    with pytest.raises(ValueError, match="expected a positive int, got 0"):
        threads.set_threads(0)


def test_idle_cores_reads_the_machine():
    idle = threads.idle_cores(0.02)
    assert idle is None or 0.0 <= idle <= (threads.os.cpu_count() or 1) + 1e-9
