# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Making it fast: profiling, Numba kernels, `jit_compile`, and the speed ladder
#
# tinycnn has two *backends* for its kernels (im2col, col2im, max pooling, ReLU, the Adam
# update): a readable NumPy reference, and Numba twins with the same signatures that compile to
# machine code. The matrix multiplies stay in NumPy (BLAS) on both. Either way, every layer's
# own `forward` and `backward` run. Beyond that, `compile(..., jit_compile=True)` opts into
# fused steps that compute the same function another way. In this tutorial we
#
# 1. time one training step of the seed CNN on the NumPy backend and profile where it goes,
# 2. time every layer, forward and backward, on both backends,
# 3. switch to Numba and pay (once) for compilation,
# 4. check that both backends compute the same numbers,
# 5. turn on `jit_compile` and see how close its numbers are,
# 6. climb the speed ladder: NumPy, Numba, `jit_compile`.
#
# Timings depend on the machine and on how busy it is (a second process on a 2-core machine
# can double them); compare numbers measured side by side in one run. It takes about a minute;
# with `TINYCNN_TUTORIAL_FAST=1` fewer steps are timed, so the numbers are noisier.

# %%
import cProfile
import io
import os
import pstats
import time

import numpy as np

from tinycnn import (
    Adam,
    SoftmaxCrossEntropy,
    get_backend,
    kernels,
    load_mnist,
    scale_images,
    seed_cnn,
    use_backend,
)

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
STEPS = 3 if FAST else 20  # timed training steps per measurement

(x_train, y_train), _ = load_mnist(subset=True)
x_batch, y_batch = scale_images(x_train[:64]), y_train[:64]
print("default backend:", get_backend())

# %% [markdown]
# ## One training step
#
# A training step is a forward pass (stopping at the logits), the loss and its gradient, the
# backward pass through every layer, and an Adam update of every parameter:


# %%
def train_step(model, loss, optimizer, x, y):
    """One mini-batch step; returns the loss."""
    value = loss.forward(model.forward(x, training=True, logits=True), y)
    model.backward(loss.backward())
    _, params, grads = zip(*model.params_and_grads(), strict=True)
    optimizer.update(list(params), list(grads))
    return value


def ms_per_step(backend, steps=STEPS):
    """Median milliseconds per training step of a fresh seed CNN (after one warm-up step)."""
    with use_backend(backend):
        model, loss, optimizer = seed_cnn(seed=0), SoftmaxCrossEntropy(), Adam()
        train_step(model, loss, optimizer, x_batch, y_batch)  # warm-up (and JIT, for numba)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            train_step(model, loss, optimizer, x_batch, y_batch)
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


numpy_ms = ms_per_step("numpy")
print(
    f"NumPy backend: {numpy_ms:.1f} ms per batch of 64 -> {numpy_ms * 938 / 1000:.0f} s per epoch"
)

# %% [markdown]
# An epoch of 60,000 images is 938 such batches. Where does the time go? Python's profiler
# counts the time spent inside every function:

# %%
with use_backend("numpy"):
    model, loss, optimizer = seed_cnn(seed=0), SoftmaxCrossEntropy(), Adam()
    train_step(model, loss, optimizer, x_batch, y_batch)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(STEPS):
        train_step(model, loss, optimizer, x_batch, y_batch)
    profiler.disable()

report = io.StringIO()
stats = pstats.Stats(profiler, stream=report).strip_dirs().sort_stats("tottime")
stats.print_stats(10)
lines = [line for line in report.getvalue().splitlines() if line.strip()]
print("\n".join(lines[-11:]))

# %% [markdown]
# (`tottime` is the time spent in the function itself, excluding the Python functions it
# calls.) The matrix multiplies, written with the `@` operator, do not appear as entries of
# their own: their time counts towards the layer methods that call them, which is why the
# convolutions' `backward` (two multiplies and a `col2im`) and `forward` lead the list. The
# rest is data movement: copying patches in `im2col`, adding them back in `col2im`, and the
# max pooling, which must find and remember the winner of every window.
#
# ## Layer by layer, both backends
#
# Timing each layer's `forward` and `backward` separately shows which kernels matter:


# %%
def layer_times(backend, repeats=STEPS):
    """Median ms of forward and backward for each layer of the seed CNN at batch 64."""
    with use_backend(backend):
        model = seed_cnn(seed=0)
        rows = {layer.name: ([], []) for layer in model.layers}
        for _ in range(repeats + 1):  # the first round is a warm-up
            x, outputs = x_batch, []
            for layer in model.layers:
                start = time.perf_counter()
                x = layer.forward(x, training=True)
                rows[layer.name][0].append(time.perf_counter() - start)
                outputs.append(x)
            dout = np.ones_like(outputs[-1]) / outputs[-1].size
            for layer in reversed(model.layers):
                start = time.perf_counter()
                dout = layer.backward(dout)
                rows[layer.name][1].append(time.perf_counter() - start)
    return {
        name: (1000 * np.median(f[1:]), 1000 * np.median(b[1:])) for name, (f, b) in rows.items()
    }


per_layer = {backend: layer_times(backend) for backend in ("numpy", "numba")}
print(f"{'layer':<16} {'NumPy fwd / bwd (ms)':>22} {'Numba fwd / bwd (ms)':>22}")
for name in per_layer["numpy"]:
    (nf, nb), (jf, jb) = per_layer["numpy"][name], per_layer["numba"][name]
    print(f"{name:<16} {nf:>10.2f} / {nb:<9.2f} {jf:>10.2f} / {jb:<9.2f}")

# %% [markdown]
# On a quiet machine the max-pooling layers gain the most: the NumPy version builds index
# arrays to find and remember each window's winner, while a compiled loop just walks the
# window. The convolutions gain less, since much of their time is the matrix multiplies, which
# are the same BLAS calls on both backends. (If the Numba column is *slower* here, the machine
# was busy while this ran: a parallel kernel must wait until every one of its threads gets a
# core. See the note on threads at the end.)
#
# ## Compilation: paid once
#
# Numba compiles a kernel the first time it is called with a new combination of argument
# types. The kernels are declared with `cache=True`, so the machine code is saved to disk and
# a later process loads it instead of compiling again. The first step in this process was
# therefore either slow (compiling) or quick (loading the cache):

# %%
with use_backend("numba"):
    model, loss, optimizer = seed_cnn(seed=1), SoftmaxCrossEntropy(), Adam()
    x64 = x_batch.astype(np.float64)  # a new dtype: a new signature, compiled or loaded now
    start = time.perf_counter()
    train_step(model.astype(np.float64), loss, optimizer, x64, y_batch)
    first = time.perf_counter() - start
    start = time.perf_counter()
    train_step(model, loss, optimizer, x64, y_batch)
    second = time.perf_counter() - start
print(f"float64, first step: {first * 1000:.0f} ms (compiling, or loading the cache)")
print(f"float64, next step:  {second * 1000:.0f} ms")

# %% [markdown]
# On a fresh installation the first run pays a few seconds per kernel; every later run starts
# in about two seconds. `import tinycnn` itself never imports Numba: the first kernel call
# does.
#
# ## Same numbers on both backends
#
# A fast path is only useful if it computes the same thing. Kernels that only move data keep
# the reference's order of operations, so they are bit-identical:

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(8, 13, 11, 5)).astype(np.float32)  # (N, H, W, C), H != W
cols = {b: kernels.implementation("im2col", b)(x, 3, 2, (2, 1), "same") for b in ("numpy", "numba")}
print("im2col, 3x2 window, strides (2, 1), 'same': identical:", np.array_equal(*cols.values()))

dcols = rng.normal(size=cols["numpy"].shape).astype(np.float32)
dx = {
    b: kernels.implementation("col2im", b)(dcols, x.shape, 3, 2, (2, 1), "same")
    for b in ("numpy", "numba")
}
print("col2im (sums where windows overlap): identical:", np.array_equal(*dx.values()))

pooled = {
    b: kernels.implementation("maxpool_forward", b)(x, 3, 3, 2, "same") for b in ("numpy", "numba")
}
(out_np, arg_np), (out_nb, arg_nb) = pooled.values()
print(
    "max pooling 3x3, stride 2: identical:",
    np.array_equal(out_np, out_nb) and np.array_equal(arg_np, arg_nb),
)

# %% [markdown]
# And a few whole training steps, from the same initial weights on the same batches.
#
# **Predict, then run.** After 5 Adam steps on each backend, how far apart are the weights:
# exactly 0, about 1e-7 (float32 rounding), or about 1e-3? Write your guess in the first line
# of the next cell.

# %%
my_guess = None  # your guess: 0, 1e-7 or 1e-3
losses = {}
for backend in ("numpy", "numba"):
    with use_backend(backend):
        model, loss, optimizer = seed_cnn(seed=0), SoftmaxCrossEntropy(), Adam()
        losses[backend] = [train_step(model, loss, optimizer, x_batch, y_batch) for _ in range(5)]
        weights = model.get_weights()
    losses[backend + " weights"] = weights
print("losses, NumPy:", np.round(losses["numpy"], 6))
print("losses, Numba:", np.round(losses["numba"], 6))
pairs = zip(losses["numpy weights"], losses["numba weights"], strict=True)
difference = max(np.abs(a - b).max() for a, b in pairs)
print(f"largest weight difference after 5 steps: {difference:.1e} (your guess: {my_guess})")
assert difference == 0  # bit for bit, as the next paragraph says

# %% [markdown]
# Identical: the Numba twins (ReLU with its mask, the Adam update, im2col...) repeat NumPy's
# arithmetic in NumPy's order, and their docstrings say so.
#
# ## `jit_compile`: the fast path, by choice
#
# `model.compile(..., jit_compile=True)` (Keras's name; `tinycnn train --jit-compile`) changes
# *how* the model runs, not what it computes: each `Conv2D(activation="relu")` followed by a
# `MaxPool2D` runs as one fused step (`tinycnn.fast`), whose large scratch arrays are kept from
# one batch to the next. For the seed CNN's two pairs the steps also do less arithmetic. The
# first convolution (one input channel) is computed window by window, straight into the pooling,
# without im2col (`tinycnn.fast.direct`); the second uses Winograd's F(2x2, 3x3) algorithm, which
# gets each 2x2 pooling window of outputs from its 4x4 input patch with 16 multiplies per
# channel pair instead of 36 (`tinycnn.fast.winograd`). They add in another order, so they agree
# with the layers to float32 rounding rather than bit for bit. The model says what runs:

# %%
with use_backend("numba"):
    model = seed_cnn(seed=0)
    layers = model.forward(x_batch, logits=True)  # eager: layer by layer
    print(model.describe_runtime())
    model.compile("adam", jit_compile=True)
    fast = model.forward(x_batch, logits=True)  # the fused steps
    print(model.describe_runtime())
print(f"jit_compile vs layers, largest logit difference: {np.abs(fast - layers).max():.1e}")

# %% [markdown]
# ## The speed ladder


# %%
def ms_per_jit_step(steps=STEPS):
    """Median milliseconds per training step with ``jit_compile=True`` (Numba backend)."""
    with use_backend("numba"):
        model, loss = seed_cnn(seed=0), SoftmaxCrossEntropy()
        model.compile(Adam(), loss, jit_compile=True)
        train_step(model, loss, model.optimizer, x_batch, y_batch)  # warm-up
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            train_step(model, loss, model.optimizer, x_batch, y_batch)
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


numba_ms, jit_ms = ms_per_step("numba"), ms_per_jit_step()
for name, ms in [("NumPy backend", numpy_ms), ("Numba backend", numba_ms), ("jit_compile", jit_ms)]:
    print(f"{name:<14} {ms:6.1f} ms per batch  ({ms * 938 / 1000:5.0f} s per epoch)")
print(f"Numba vs NumPy: {numpy_ms / numba_ms:.1f}x; jit_compile vs Numba: {numba_ms / jit_ms:.1f}x")

# %% [markdown]
# The numbers just above come from whatever machine ran this page, busy or not. The whole
# ladder, with PyTorch and TensorFlow side by side in worker processes, is measured by
# `tinycnn bench`; the Benchmarks page of the documentation (`docs/benchmarks.md`) records a run
# with its conditions and the command that reproduces it.
#
# Threads: the matrix multiplies use OpenBLAS's threads. At the first `fit` or `predict` tinycnn
# looks at how many cores are idle and lets OpenBLAS use only those (`tinycnn.runtime`): on a busy
# machine a multiply split over two threads must wait for the slower one to get a core, which
# made steps several times slower. The Numba kernels run on one thread unless
# `TINYCNN_NUMBA_THREADS=N` asks for more. `TINYCNN_THREADS=1` (or `OPENBLAS_NUM_THREADS=1`)
# chooses one thread yourself, the right setting for a lab server shared by a class.
#
# Finally, [tutorial 9](09_tensorflow_parity.py) checks all of this against TensorFlow.

# %% [markdown]
# ## Your turn
#
# The fast kernels are twins of the NumPy im2col and col2im: write the originals. Exercises:
# `im2col`, `col2im`. Start each one in a folder of your own (it writes `my_exercises/<name>.py`,
# with the math, every shape and a `raise NotImplementedError` where your answer goes), fill it
# in, and run the cell below (or `tinycnn exercises check <name> my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start im2col my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["im2col", "col2im"]:
    print(check(name, "my_exercises"), end="\n\n")
