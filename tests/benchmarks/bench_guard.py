"""What the non-finite guard costs ``fit`` (issue 17), beside what it replaced.

Three ways to protect the weights, timed on the seed CNN (``tinycnn.zoo.seed_cnn``), batch 64,
MNIST-sized inputs:

- ``guard``: ``FiniteGuard.check_gradients`` + ``check_weights`` (one ``vdot`` per gradient and
  per parameter; a copy only every 100 steps or before a risky update);
- ``copy``: what ``_GoodWeights`` did before, a copy of every parameter every step;
- the training step itself (forward, loss, backward, update), for scale.

Each is timed ``--repeats`` times over ``--steps`` steps; the median per step is printed, and
the guard's share of a step. Usage::

    python tests/benchmarks/bench_guard.py
    python tests/benchmarks/bench_guard.py --steps 50 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinycnn.training.guard import FiniteGuard
from tinycnn.zoo import seed_cnn


def per_step(action, steps: int, repeats: int) -> float:
    """Median seconds per call of ``action`` over ``repeats`` runs of ``steps`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            action()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    model = seed_cnn(0)
    model.compile(optimizer="adam")
    triples = model.params_and_grads()
    params = [p for _, p, _ in triples]
    grads = [g for _, _, g in triples]
    guard = FiniteGuard(model, epochs=1, steps=args.steps)
    copies = [p.copy() for p in params]

    def step() -> None:
        logits = model.forward(x, training=True, logits=True)
        model.loss.forward(logits, y)
        model.backward(model.loss.backward())
        model.optimizer.update(params, grads)

    def check() -> None:
        guard.check_gradients(0, 0)
        guard.check_weights(0, 0)

    def copy() -> None:
        for kept, p in zip(copies, params, strict=True):
            np.copyto(kept, p)

    step()  # compile the Numba kernels, fill the gradients
    n_params = sum(p.size for p in params)
    t_step = per_step(step, args.steps, args.repeats)
    t_check = per_step(check, args.steps * 10, args.repeats)
    t_copy = per_step(copy, args.steps * 10, args.repeats)
    print(f"seed CNN: {n_params:,} parameters, batch {args.batch}")
    print(f"training step          {t_step * 1e3:8.3f} ms")
    print(f"guard (both checks)    {t_check * 1e3:8.3f} ms  ({t_check / t_step:.2%} of a step)")
    print(f"copy of every weight   {t_copy * 1e3:8.3f} ms  ({t_copy / t_step:.2%} of a step)")


if __name__ == "__main__":
    main()
