"""Eager training steps on the NumPy and Numba backends, with and without competing CPU load.

Tutorial 8 compares the two backends. On a busy machine thread pools that spin while waiting
(OpenBLAS's after each matrix multiply, a parallel kernel's) can make one backend collapse. This
script starts ``--load`` busy processes (pure Python loops, one core each), then times the seed
CNN's eager training step on both backends, interleaved, and prints medians and the ratio
NumPy / Numba (above 1x: Numba is faster). It runs the same measurement without load first.

Usage::

    python tests/benchmarks/bench_threads_under_load.py --load 2 --rounds 5 --steps 10

Not collected by pytest (the machines are shared and noisy: no timed tests).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np


def busy() -> None:
    """Spin forever: one core's worth of competing load."""
    while True:
        pass


def step_times(model, x, y, steps: int) -> float:
    """Median seconds of ``steps`` eager training steps (forward, loss, backward, update)."""
    times = []
    with model.runtime.applied():  # the threads fit runs with
        for _ in range(steps):
            start = time.perf_counter()
            logits = model.forward(x, training=True, logits=True)
            model.loss.forward(logits, y)
            model.backward(model.loss.backward())
            triples = model.params_and_grads()
            model.optimizer.update([p for _, p, _ in triples], [g for _, _, g in triples])
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(rounds: int, steps: int) -> tuple[dict[str, float], str]:
    """In a fresh process: the threads tinycnn chooses now, then the backends' median ms."""
    import tinycnn
    from tinycnn import runtime

    threads = runtime.thread_policy()

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    models = {}
    for backend in ("numpy", "numba"):
        with tinycnn.use_backend(backend):
            models[backend] = tinycnn.seed_cnn(seed=0)
            models[backend].compile("adam")
            step_times(models[backend], x, y, 3)  # warm-up: JIT cache, allocator
    results: dict[str, list[float]] = {backend: [] for backend in models}
    for _ in range(rounds):
        for backend, model in models.items():
            with tinycnn.use_backend(backend):
                results[backend].append(step_times(model, x, y, steps))
    ms = {backend: float(np.median(t)) * 1e3 for backend, t in results.items()}
    return ms, threads.describe()


def report(title: str, rounds: int, steps: int) -> None:
    """Measure in a fresh process (so that tinycnn chooses its threads under this load)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        ms, chosen = pool.apply(measure, (rounds, steps))
    ratio = ms["numpy"] / ms["numba"]
    print(
        f"{title:<22} numpy {ms['numpy']:7.2f} ms   numba {ms['numba']:7.2f} ms   "
        f"numpy/numba {ratio:.2f}x   [{chosen}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--load", type=int, default=2, help="busy processes (2)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    chosen = [f"{v}={os.environ[v]}" for v in ("TINYCNN_THREADS", "OPENBLAS_NUM_THREADS")
              if v in os.environ]  # fmt: skip
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {chosen or 'defaults'}")
    report("no extra load", args.rounds, args.steps)
    workers = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0)
        report(f"{args.load} busy processes", args.rounds, args.steps)
    finally:
        for worker in workers:
            worker.terminate()


if __name__ == "__main__":
    main()
