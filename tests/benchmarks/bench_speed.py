"""The speed ladder: tinycnn (eager NumPy, eager Numba, jit_compile) beside PyTorch and TF.

A thin wrapper around ``tinycnn bench`` (see ``tinycnn/cli/bench.py``); the figures and the
exact command of the last recorded run are in ``docs/benchmarks.md``.

Usage::

    python tests/benchmarks/bench_speed.py                      # both models, all systems
    python tests/benchmarks/bench_speed.py --model cnn --repeats 7 --full-epoch numba,jit,torch,tf
    python tests/benchmarks/bench_speed.py --threads 1          # one thread everywhere
"""

from __future__ import annotations

import sys

from tinycnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
