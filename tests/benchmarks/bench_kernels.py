"""Each kernel on its two backends at the seed CNN's shapes (batch 64): median milliseconds.

Shows where a Numba twin pays (STYLE.md: a kernel gets a twin only when a benchmark shows a
speedup). Usage: ``python tests/benchmarks/bench_kernels.py [--repeats 30]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tinycnn import kernels, runtime
from tinycnn.optim import Adam


def median_ms(fn, repeats: int) -> float:
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def cases(rng: np.random.Generator):
    """(name, NumPy callable, Numba callable) at the seed CNN's shapes."""
    x1 = rng.random((64, 28, 28, 1), dtype=np.float32)
    x2 = rng.standard_normal((64, 13, 13, 32)).astype(np.float32)
    c2 = kernels.implementation("im2col", "numpy")(x2, 3, 3)
    a1 = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
    out, argmax = kernels.implementation("maxpool_forward", "numpy")(a1, 2, 2, 2)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    mask = a1 > 0

    def pair(name, *args):
        return (
            lambda: kernels.implementation(name, "numpy")(*args),
            lambda: kernels.implementation(name, "numba")(*args),
        )

    yield ("im2col conv1", *pair("im2col", x1, 3, 3))
    yield ("im2col conv2", *pair("im2col", x2, 3, 3))
    yield ("col2im conv2", *pair("col2im", c2, x2.shape, 3, 3))
    yield ("maxpool fwd 26x26x32", *pair("maxpool_forward", a1, 2, 2, 2))
    yield ("maxpool bwd 26x26x32", *pair("maxpool_backward", dout, argmax, a1.shape, 2, 2, 2))
    yield ("relu fwd 26x26x32", *pair("relu_forward", a1))
    yield ("relu bwd 26x26x32", *pair("relu_backward", a1, mask))
    yield ("adam 225k params", *adam_pair(rng))


def adam_pair(rng: np.random.Generator):
    from tinycnn.zoo import seed_cnn

    params = [p for _, p, _ in seed_cnn(seed=0).params_and_grads()]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    opts = {b: Adam() for b in runtime.BACKENDS}

    def step(backend):
        with runtime.use_backend(backend):
            opts[backend].update(params, grads)

    return (lambda: step("numpy")), (lambda: step("numba"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"{'kernel':<24} {'numpy ms':>9} {'numba ms':>9} {'speedup':>8}")
    with runtime.Runtime("numba").applied():  # the threads fit runs the kernels with
        for name, ref, fast in cases(np.random.default_rng(0)):
            a, b = median_ms(ref, args.repeats), median_ms(fast, args.repeats)
            print(f"{name:<24} {a:9.3f} {b:9.3f} {a / b:7.1f}x")


if __name__ == "__main__":
    main()
