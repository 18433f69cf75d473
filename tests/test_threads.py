"""The threads: chosen once per process by ``tinycnn.runtime`` from the idle cores, unless the user
chose (``TINYCNN_THREADS``, ``OPENBLAS_NUM_THREADS``...), applied while a model computes (the
BLAS limit restored after), and never at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import tinycnn
from tinycnn import runtime


def blas_threads() -> int:
    return next(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.fixture
def fresh(monkeypatch):
    """A process that has not chosen yet, with no thread variables; limits restored after."""
    monkeypatch.setattr(runtime, "_policy", None)
    for name in (runtime.THREADS_VAR, runtime.NUMBA_THREADS_VAR, *runtime.USER_VARS):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=None):  # restores the original limits on exit
        yield monkeypatch


def test_a_busy_machine_gets_one_thread_per_idle_core_while_it_runs(fresh):
    fresh.setattr(runtime.os, "cpu_count", lambda: 4)
    fresh.setattr(runtime, "idle_cores", lambda seconds=0.05: 1.7)
    with threadpool_limits(limits=3, user_api="blas"):
        assert runtime.thread_policy() == runtime.Threads(2, 1, "1.7 of 4 cores were idle")
        with runtime.Runtime("numpy").applied():
            assert blas_threads() == 2
        assert blas_threads() == 3  # restored
        fresh.setattr(runtime, "idle_cores", lambda seconds=0.05: 0.2)
        assert runtime.thread_policy().blas == 2  # chosen once per process


def test_a_quiet_machine_keeps_every_core(fresh):
    before = blas_threads()
    fresh.setattr(runtime, "idle_cores", lambda seconds=0.05: float(os.cpu_count() or 1))
    policy = runtime.thread_policy()
    assert policy.blas is None and "cores idle" in policy.why
    with runtime.Runtime("numpy").applied():
        assert blas_threads() == before


def test_the_users_choice_wins(fresh):
    fresh.setenv("OPENBLAS_NUM_THREADS", "3")
    fresh.setattr(runtime, "idle_cores", lambda seconds=0.05: pytest.fail("not asked"))
    assert runtime.thread_policy().why == "as the environment sets them"
    fresh.setattr(runtime, "_policy", None)
    fresh.setenv(runtime.THREADS_VAR, "1")
    fresh.setenv(runtime.NUMBA_THREADS_VAR, "2")
    assert runtime.thread_policy() == runtime.Threads(1, 2, "1 from TINYCNN_THREADS")
    assert runtime.set_threads(2) == 2
    assert runtime.thread_policy() == runtime.Threads(2, 2, "set by you")


def test_bad_requests_are_refused(fresh):
    fresh.setenv(runtime.THREADS_VAR, "two")
    with pytest.raises(ValueError, match="TINYCNN_THREADS: expected a positive integer, got 'two'"):
        runtime.thread_policy()
    fresh.delenv(runtime.THREADS_VAR)
    fresh.setenv(runtime.NUMBA_THREADS_VAR, "0")
    with pytest.raises(ValueError, match="TINYCNN_NUMBA_THREADS: expected a positive integer"):
        runtime.thread_policy()
    with pytest.raises(ValueError, match="expected a positive int, got 0"):
        runtime.set_threads(0)


def test_idle_cores_is_a_fraction_of_the_cores():
    idle = runtime.idle_cores(0.02)
    assert idle is None or 0.0 <= idle <= (os.cpu_count() or 1) + 1e-9


def test_summary_and_history_say_how_many_threads_run(fresh):
    runtime.set_threads(1)
    model = tinycnn.dense_baseline(seed=0)
    model.compile("adam")
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert lines[-1].endswith("threads: 1 BLAS, 1 Numba (set by you)")
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8)
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert history.params["threads"] == {"blas": 1, "numba": 1, "why": "set by you"}


PROBE = """
import json, numba, numpy as np, threadpoolctl

def state():  # Numba's threads, and those of the BLAS NumPy multiplies with
    info = threadpoolctl.threadpool_info()
    return [numba.get_num_threads(), [p["num_threads"] for p in info if "numpy" in p["filepath"]]]

before = state()
import tinycnn, tinycnn.kernels.im2col_numba, tinycnn.kernels.pool_numba, tinycnn.fast.plan
import tinycnn.cli, tinycnn.training.loop
after_import = state()
seen = []
model = tinycnn.seed_cnn(seed=0)
model.compile("adam")
rng = np.random.default_rng(0)
x, y = rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8)
record = tinycnn.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(state()))
model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[record])
print(json.dumps([before, after_import, seen[0], state()]))
"""


def test_import_sets_no_thread_and_fit_restores_the_blas_limit():
    environment = {
        k: v for k, v in os.environ.items() if k not in runtime.USER_VARS and k != "TINYCNN_BACKEND"
    }
    environment.update(NUMBA_NUM_THREADS="2", TINYCNN_THREADS="1", TINYCNN_NUMBA_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    before, after_import, during_fit, after_fit = json.loads(done.stdout)
    assert before[0] == 2 and len(before[1]) == 1, before  # Numba's default, NumPy's BLAS
    assert after_import == before
    assert during_fit == [1, [1]]
    assert after_fit == [1, before[1]]  # the BLAS limit restored; Numba's count kept
