"""Numba's thread count: one by default (beside OpenBLAS), more only when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

PROBE = (
    "import numba, tinycnn.kernels.threads_numba as t; "
    "print(numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)"
)


def numba_threads(**env: str) -> tuple[int, int]:
    environment = {k: v for k, v in os.environ.items() if k != "TINYCNN_NUMBA_THREADS"}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    active, available = done.stdout.split()
    return int(active), int(available)


def test_one_thread_by_default_even_where_more_are_available():
    assert numba_threads(NUMBA_NUM_THREADS="2") == (1, 2)


def test_more_threads_on_request_capped_by_what_numba_has():
    assert numba_threads(NUMBA_NUM_THREADS="2", TINYCNN_NUMBA_THREADS="2") == (2, 2)
    assert numba_threads(NUMBA_NUM_THREADS="2", TINYCNN_NUMBA_THREADS="8") == (2, 2)
