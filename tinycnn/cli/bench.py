"""``tinycnn bench``: the speed ladder, tinycnn beside PyTorch and TensorFlow in one run.

Every system (tinycnn eager on the NumPy and the Numba backend, tinycnn with
``jit_compile=True``, PyTorch and TensorFlow when installed) trains the same model with Adam at
the same batch size in its own worker process. The parent interleaves them: in each repeat every
system runs ``--steps`` training steps in turn, so a noisy neighbour slows all of them alike,
with a pause before each turn so that the previous system's idle threads stop spinning.
Reported: median milliseconds per batch with min-max over repeats, an epoch-time
*extrapolation* (median x batches per epoch), ratios, per-layer forward/backward times for
tinycnn, single-image predict latency, a real full epoch with peak memory, the import time and
the start-up time to a first training step.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import platform
import subprocess
import sys
import time

import numpy as np

HELP = "measure training speed against PyTorch and TensorFlow (the speed ladder)"
# Pause between two systems' turns: thread pools (OpenBLAS, OpenMP, Eigen) keep spinning for a
# while after their last task (OpenBLAS: 2**28 cycles, ~0.1 s), which slowed whichever system ran
# next by up to 2x on a 2-core machine (the identical dense model measured 4.2 and 7.5 ms/batch
# as the first and the second of two tinycnn workers).
SETTLE_SECONDS = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("cnn", "dense", "both"), default="both")
    parser.add_argument(
        "--systems",
        default="numpy,numba,jit,torch,tf",
        help="comma-separated subset of numpy,numba,jit,torch,tf (missing frameworks skip): "
        "numpy and numba run tinycnn eager (every layer's own forward/backward) on that "
        "backend; jit is compile(..., jit_compile=True), the fused steps",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per system per round")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--full-epoch",
        default="numba,jit",
        help="systems that also run one real full epoch (comma-separated, or 'none')",
    )
    parser.add_argument("--subset", action="store_true", help="the embedded 10k subset")


def run(args: argparse.Namespace) -> int:
    systems = [s for s in args.systems.split(",") if s]
    _print_machine(args)
    models = ["cnn", "dense"] if args.model == "both" else [args.model]
    for model_name in models:
        _ladder(model_name, systems, args)
    _startup()
    return 0


def _print_machine(args: argparse.Namespace) -> None:
    import numba

    cpu = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {cpu}, {os.cpu_count()} cores, load average {load:.2f} at start")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
        f"batch {args.batch_size}, Adam lr 1e-3, {args.threads} threads per system"
    )


def _available(system: str) -> bool:
    module = {"torch": "torch", "tf": "tensorflow"}.get(system)
    return module is None or importlib.util.find_spec(module) is not None


def _start_workers(model_name, systems, args):
    from tinycnn.cli import bench_systems

    context = multiprocessing.get_context("spawn")
    workers = {}
    for system in systems:
        if not _available(system):
            print(f"  {system}: not installed, skipped")
            continue
        parent, child = context.Pipe()
        config = (system, model_name, args.batch_size, args.threads, args.subset)
        process = context.Process(target=bench_systems.serve, args=(child, *config), daemon=True)
        process.start()
        status, detail = parent.recv()
        if status != "ready":
            print(f"  {system}: failed to start ({detail}), skipped")
            process.join()
            continue
        workers[system] = (process, parent)
    return workers


def _ladder(model_name: str, systems: list[str], args: argparse.Namespace) -> None:
    title = "seed CNN" if model_name == "cnn" else "dense baseline"
    print(f"\n== {title}: training steps, {args.repeats} interleaved rounds ==")
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = str(args.threads)  # inherited by the workers, read at import
    workers = _start_workers(model_name, systems, args)
    times: dict[str, list[float]] = {s: [] for s in workers}
    for _, conn in workers.values():  # warm-up: JIT, caches, allocator
        conn.send(("steps", 5))
        conn.recv()
    for _ in range(args.repeats):
        for s, (_, conn) in workers.items():
            time.sleep(SETTLE_SECONDS)
            conn.send(("steps", args.steps))
            times[s].append(float(np.median(conn.recv())))
    _print_steps(times, args.batch_size, 60_000)
    _print_layers(workers, model_name)
    _print_predict(workers)
    _print_epochs(workers, args)
    for process, conn in workers.values():
        conn.send(("stop",))
        process.join(timeout=30)


def _print_steps(times: dict[str, list[float]], batch_size: int, n_train: int) -> None:
    batches = -(-n_train // batch_size)
    print(f"{'system':<8} {'ms/batch':>9} {'min-max':>15} {'epoch (extrapolated)':>21}  ratio")
    medians = {s: float(np.median(t)) * 1e3 for s, t in times.items() if t}
    for s, t in times.items():
        ms = np.array(t) * 1e3
        ratio = "" if "jit" not in medians else f"{medians[s] / medians['jit']:.2f}x jit"
        print(
            f"{s:<8} {medians[s]:9.2f} {ms.min():7.2f}-{ms.max():<7.2f} "
            f"{medians[s] * batches / 1e3:17.1f} s    {ratio}"
        )
    for ours in ("numba", "jit"):
        for peer in ("torch", "tf"):
            if peer in medians and ours in medians:
                speedup = medians[peer] / medians[ours]
                print(f"tinycnn ({ours}) is {speedup:.2f}x faster than {peer}")


def _print_layers(workers, model_name: str) -> None:
    for s in ("numpy", "numba", "jit"):
        if s not in workers:
            continue
        conn = workers[s][1]
        time.sleep(SETTLE_SECONDS)
        conn.send(("layers", 15))
        rows = conn.recv()
        print(f"per-step median ms, {s} (forward / backward):")
        width = max(len(name) for name, _, _ in rows)
        for name, f, b in rows:
            print(f"  {name:<{width}} {f:8.3f} / {b:8.3f}")


def _print_predict(workers) -> None:
    print("single-image predict, median ms (min):")
    for s, (_, conn) in workers.items():
        time.sleep(SETTLE_SECONDS)
        conn.send(("predict", 300))
        t = np.array(conn.recv()) * 1e3
        print(f"  {s:<8} {np.median(t):8.3f} ({t.min():.3f})")


def _print_epochs(workers, args: argparse.Namespace) -> None:
    chosen = [s for s in args.full_epoch.split(",") if s in workers]
    for s in chosen:
        conn = workers[s][1]
        time.sleep(SETTLE_SECONDS)
        conn.send(("epoch",))
        seconds, rss = conn.recv()
        n = "10k subset" if args.subset else "full training set"
        print(f"real full epoch ({n}), {s}: {seconds:.2f} s, peak RSS of the worker {rss:.0f} MB")


STARTUP = """
import time
t0 = time.perf_counter()
import numpy as np
import tinycnn
from tinycnn.zoo import seed_cnn
t_import = time.perf_counter() - t0
model = seed_cnn(seed=0)
model.compile(optimizer="adam")
rng = np.random.default_rng(0)
x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
model.fit(x, y, epochs=1, batch_size=64, verbose=0)
print(t_import, time.perf_counter() - t0)
"""


def _startup() -> None:
    """Time ``import tinycnn`` and a fresh process's first training step (cached JIT)."""
    print("\n== start-up (fresh interpreter; numba backend, JIT cache warmed by a first run) ==")
    results = []
    for _ in range(4):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True
        ).stdout.split()
        results.append((float(out[0]), float(out[1]), time.perf_counter() - start))
    imports, steps, walls = (np.array(r) for r in zip(*results[1:], strict=True))
    print(f"import tinycnn: median {np.median(imports):.3f} s")
    print(
        f"process start to end of first training step: median {np.median(walls):.2f} s "
        f"(of which after the interpreter started: {np.median(steps):.2f} s)"
    )
