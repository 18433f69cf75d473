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
# # 4. Gradient checking and property-based testing
#
# A wrong backward pass rarely crashes. The network still trains, a little worse, and nobody
# notices. This tutorial shows the two tools tinycnn uses so that such bugs cannot hide:
#
# 1. `gradcheck`, which compares every entry of every gradient with a central difference;
# 2. kinks, the points where a difference quotient is *supposed* to disagree, and how the check
#    tells them from bugs;
# 3. three bugs planted on purpose, and the check catching each one (and a way to miss one);
# 4. a new layer of our own, tested with **hypothesis** properties that search for the input
#    shapes where it breaks.
#
# It runs in about ten seconds (fewer hypothesis examples with `TINYCNN_TUTORIAL_FAST=1`).

# %%
import os

import numpy as np
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tinycnn.layers import Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.testing.gradcheck import gradcheck

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
rng = np.random.default_rng(0)

# %% [markdown]
# ## Checking a layer
#
# `gradcheck(layer, x)` copies the layer, casts the copy to float64, draws a random upstream
# gradient `dout` and, for every element $u$ of the input and of every parameter, compares the
# analytic derivative from `backward` with the five-point central difference
#
# $$
# \frac{\partial f}{\partial u} \approx
# \frac{8\,[f(u+\epsilon) - f(u-\epsilon)] - [f(u+2\epsilon) - f(u-2\epsilon)]}{12\epsilon},
# \qquad f = \sum \mathrm{out} \odot \mathrm{dout}, \quad \epsilon = 10^{-6}.
# $$
#
# Its truncation error is $O(\epsilon^4)$ (the two-point $[f(u+\epsilon) - f(u-\epsilon)]/2\epsilon$
# has $O(\epsilon^2)$), plus rounding of order $10^{-16}/\epsilon$: about $10^{-10}$ in float64.
# Each element's error is $|a - n| / \max(|a| + T, F)$, where $T$ is the sum of the absolute
# terms the numeric value $n$ adds up (so a gradient that cancels to nearly nothing is measured
# against the size of its parts) and the floor $F$ is $0.1 \times$ the tensor's largest
# $|a| + T$. A correct layer shows errors around $10^{-9}$ or below; the check passes at or
# below $10^{-6}$.
#
# That this is the formula `gradcheck` uses can itself be checked: a layer whose `backward`
# *returns* the five-point difference of its own `forward` (here $\sin 3x$) passes with a
# large $\epsilon = 0.05$ to rounding, while one returning the two-point difference is
# $O(\epsilon^2)$ away.


# %%
def stencil_layer(two_point, eps=0.05):
    class Sine(Layer):
        def output_shape(self, input_shape):
            return input_shape

        def forward(self, x, training=False):
            self._cache = x
            return np.sin(3 * x)

        def backward(self, dout):
            x, f = self._cache, self.forward
            if two_point:
                slope = (f(x + eps) - f(x - eps)) / (2 * eps)
            else:
                slope = (8 * (f(x + eps) - f(x - eps)) - (f(x + 2 * eps) - f(x - 2 * eps))) / (
                    12 * eps
                )
            self._cache = x
            return slope * dout

    return Sine()


u = rng.normal(size=(2, 3))
five, two = (gradcheck(stencil_layer(p), u, eps=0.05).max_rel_error for p in (False, True))
print(f"five-point backward: error {five:.1e};  two-point backward: error {two:.1e}")
assert five < 1e-12 < 1e-4 < two

# %% [markdown]
# A 3 x 2 kernel, "same" padding, stride 1 and a built-in ReLU, on an image that is taller than
# it is wide:

# %%
conv = Conv2D(filters=2, kernel_size=(3, 2), padding="same", activation="relu")
conv.build((5, 4, 3), rng=rng)
result = gradcheck(conv, rng.normal(size=(2, 5, 4, 3)))
print(result)
print("ok:", result.ok, " worst:", f"{result.max_rel_error:.1e}")

# %% [markdown]
# Every tensor is covered: the input `x` and both parameters. The same call checks a whole
# model (every layer's parameters at once), and a loss, with `x` the logits and `y` the labels.
# (`gradcheck(model, x, y, loss=...)` checks a model through its loss instead of a random
# `dout`.)

# %%
model = Sequential(
    [Conv2D(3, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(4, activation="softmax")],
    input_shape=(6, 7, 1),
    seed=0,
)
x = rng.normal(size=(3, 6, 7, 1))
print(gradcheck(model, x))
print(gradcheck(SoftmaxCrossEntropy(), rng.normal(size=(4, 5)), np.array([0, 1, 4, 2])))

# %% [markdown]
# ## Kinks
#
# ReLU is not differentiable at 0. If $u - 2\epsilon < 0 < u + 2\epsilon$, the five-point
# difference mixes the slopes on both sides and matches neither:

# %%
relu = ReLU()
relu.build((1,))
h = 1e-6


def f(v):
    return relu.forward(np.array([[v]]))[0, 0]


for u in (0.0, 4e-7, -2e-7, 1.5e-6, 0.5):
    numeric = (8 * (f(u + h) - f(u - h)) - (f(u + 2 * h) - f(u - 2 * h))) / (12 * h)
    relu.forward(np.array([[u]]))
    analytic = relu.backward(np.ones((1, 1)))
    print(f"u = {u:+.1e}: five-point difference {numeric:.2f}, backward {analytic[0, 0]:.0f}")

# %% [markdown]
# The layer is right and the difference quotient is wrong, so the check must not count these
# elements. It recognises them by the layer's *decision state*: ReLU's mask $x > 0$, max
# pooling's choice of winner. If the state at $u + 2\epsilon$ differs from the state at
# $u + \epsilon$, $u - \epsilon$ or $u - 2\epsilon$, the element is a kink, and it is reported
# in the `kinks` column instead of the error:

# %%
x = np.array([[-1.0, 0.0, 3e-7, 2.0, -5e-7, 1.5]])
relu = ReLU()
relu.build((6,))
print(gradcheck(relu, x))

# %% [markdown]
# Max pooling has a kink wherever two entries of a window tie for the maximum. Small integers
# tie all the time:

# %%
pool = MaxPool2D(pool_size=2)
pool.build((4, 4, 1))
ties = rng.integers(0, 3, size=(1, 4, 4, 1)).astype(np.float64)
print(ties[0, :, :, 0])
print(gradcheck(pool, ties))

# %% [markdown]
# Random floats from a seeded generator practically never land within $2 \cdot 10^{-6}$ of a
# kink, which is why tinycnn's property tests draw their values that way, and use a separate
# small-integer strategy when they want ties on purpose.
#
# ## Breaking a layer on purpose
#
# A check is only worth something if it fails when it should. Let us plant three bugs, each
# a plausible slip, by overriding `backward` in a subclass.
#
# **Bug 1: the mean instead of the sum.** The bias gradient of a dense layer sums `dout` over
# the batch; averaging looks just as reasonable.


# %%
class MeanBiasDense(Dense):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)  # bug: should be dout.sum(axis=0)
        return dx


layer = MeanBiasDense(3)
layer.build((4,), rng=rng)
print(gradcheck(layer, rng.normal(size=(5, 4))))

# %% [markdown]
# The report points at the guilty tensor. (With a batch of one example the bug would be
# invisible, since the mean and the sum agree: test with `N > 1`.)
#
# **Bug 2: the kernel's rows and columns swapped.** Writing `dw` with `p` and `q` exchanged
# is easy when the kernel is square in your head:


# %%
class SwappedConv2D(Conv2D):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["w"] = self.grads["w"].transpose(1, 0, 2, 3)  # bug: (q, p) instead of (p, q)
        return dx


layer = SwappedConv2D(filters=2, kernel_size=3)
layer.build((5, 5, 1), rng=rng)
print(gradcheck(layer, rng.normal(size=(2, 5, 5, 1))))

# %% [markdown]
# **Bug 3: the outputs mixed up.** Here the backward pass pairs each gradient with the wrong
# output unit (it reverses `dout`'s columns):


# %%
class ReversedDense(Dense):
    def backward(self, dout):
        return super().backward(dout[:, ::-1])  # bug: each unit gets another unit's gradient


layer = ReversedDense(3)
layer.build((4,), rng=rng)
x = rng.normal(size=(5, 4))
print(gradcheck(layer, x))

# %% [markdown]
# Now the reason `gradcheck` draws a random `dout` instead of the obvious all-ones.
#
# **Predict, then run.** The same broken layer, checked with `dout` all ones: does the check
# still catch the bug? Write `True` (caught) or `False` in the first line of the next cell.

# %%
my_guess = None  # your guess: True if the check still fails, False if the bug slips through
result = gradcheck(layer, x, dout=np.ones((5, 3)))
print(result)
print(f"caught: {not result.ok} (your guess: {my_guess})")
assert result.ok  # all-ones dout hides this bug

# %% [markdown]
# The buggy layer passes: with ones, every output unit gets the same upstream gradient, so
# mixing them up changes nothing. The lesson generalises: a test input with too much symmetry
# (all-ones gradients, one example, square kernels, square images, one channel) can hide a bug.
# Which brings us to generating test inputs systematically.
#
# ## A layer of our own, tested with hypothesis
#
# Suppose we add global average pooling: it averages each channel over the whole image,
# `(N, H, W, C)` to `(N, C)`:
#
# $$
# \mathrm{out}[n,c] = \frac{1}{H W}\sum_{u,v} x[n,u,v,c], \qquad
# dx[n,u,v,c] = \frac{dout[n,c]}{H W}.
# $$
#
# A layer needs `forward`, `backward` and `output_shape` (see `tinycnn.layers.Layer`). Here are
# two versions; the second has a slip that a test on square images would never see.


# %%
class GlobalAveragePool2D(Layer):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""

    def output_shape(self, input_shape):
        return (input_shape[-1],)

    def forward(self, x, training=False):
        self._cache = x.shape
        return x.mean(axis=(1, 2))

    def backward(self, dout):
        N, H, W, C = self._cache
        return np.broadcast_to(dout[:, None, None, :] / (H * W), (N, H, W, C)).copy()


class SloppyGlobalAveragePool2D(GlobalAveragePool2D):
    def backward(self, dout):
        N, H, W, C = self._cache
        return np.broadcast_to(dout[:, None, None, :] / (H * H), (N, H, W, C)).copy()  # bug


# %% [markdown]
# A hypothesis *property* states what must hold for every input, and hypothesis searches for a
# counterexample: it draws shapes and seeds from the strategies, and when a draw fails it
# *shrinks* it to the simplest failing case. Our property: the gradient check passes for any
# batch size, height, width and channel count.


# %%
def gradient_property(layer_class):
    @settings(max_examples=20 if FAST else 100, deadline=None, database=None)
    @given(
        N=st.integers(1, 3),
        H=st.integers(1, 6),
        W=st.integers(1, 6),
        C=st.integers(1, 3),
        seed=st.integers(0, 2**32 - 1),
    )
    def check(N, H, W, C, seed):
        layer = layer_class()
        layer.build((H, W, C))
        x = np.random.default_rng(seed).normal(size=(N, H, W, C))  # values from a seeded generator
        result = gradcheck(layer, x)
        assert result.ok, str(result)

    return check


gradient_property(GlobalAveragePool2D)()
print("GlobalAveragePool2D: the property holds on every example hypothesis tried")

# %% [markdown]
# For the sloppy layer the property fails. To *see* the shrunk counterexample, rather than fish
# it out of the error report (whose wording changes between hypothesis versions), ask
# `hypothesis.find` for the simplest draw on which the check fails:


# %%
def counterexample(layer_class):
    """The simplest (N, H, W, C, seed) on which gradcheck fails, or None if none is found."""
    cases = st.tuples(
        st.integers(1, 3),
        st.integers(1, 6),
        st.integers(1, 6),
        st.integers(1, 3),
        st.integers(0, 2**32 - 1),
    )

    def fails(case):
        N, H, W, C, seed = case
        layer = layer_class()
        layer.build((H, W, C))
        x = np.random.default_rng(seed).normal(size=(N, H, W, C))
        return not gradcheck(layer, x).ok

    quick = settings(
        max_examples=20 if FAST else 100, deadline=None, database=None, derandomize=True
    )
    try:
        return find(cases, fails, settings=quick)
    except NoSuchExample:
        return None


N, H, W, C, seed = counterexample(SloppyGlobalAveragePool2D)
print(f"SloppyGlobalAveragePool2D fails; simplest failing case: N={N}, H={H}, W={W}, C={C}")
print("GlobalAveragePool2D:", counterexample(GlobalAveragePool2D))
assert H != W and counterexample(GlobalAveragePool2D) is None

# %% [markdown]
# Hypothesis shrinks to a minimal failing case: one image, one channel, with $H \ne W$ (printed
# above), exactly the case the bug needs. More properties worth stating for
# this layer: the output of a constant image is that constant; the output shape is `(N, C)`;
# scaling the input scales the output. tinycnn's own test suite states such properties for
# every layer and kernel, with shapes drawn by the strategies it installs with the package,
# `tinycnn.testing.strategies` (`from tinycnn.testing import conv_configs, pool_configs`):
# batch sizes 1 to 3, heights different from widths, non-square kernels, strides 1 to 3 and
# both paddings. The docs page "Check your own layer" uses them on a layer of its own.
#
# Next, [tutorial 5](05_train_seed_cnn.py) puts the checked layers to work and trains a CNN.

# %% [markdown]
# ## Your turn
#
# Write a central-difference gradient checker of your own; it must pass tinycnn's Conv2D and catch
# planted bugs. Exercises: `gradient_check`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start gradient_check my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["gradient_check"]:
    print(check(name, "my_exercises"), end="\n\n")
