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
# # 6. A dense network against a CNN: parameters, accuracy, and shifted digits
#
# Are convolutions worth the trouble? A plain multilayer perceptron (the Keras MNIST "mlp"
# example: 784 inputs, two hidden layers of 512 units with dropout, 10 outputs) does well on
# MNIST too. We compare it with the seed CNN on three counts:
#
# 1. size: parameters and arithmetic per image,
# 2. accuracy after the same training,
# 3. robustness: what happens when the digits move a few pixels.
#
# **How long it takes.** By default both networks train for 1 epoch on the full MNIST set
# (about a minute and a half on a 2-core machine; the embedded subset if the full set is not
# found). With `TINYCNN_TUTORIAL_FAST=1` (the test suite and the docs build) they train 1 epoch
# on the subset, so the rendered numbers are lower than a default run prints. After ten epochs
# on the full set the dense network reaches about 98% and the CNN about 99.2%.

# %%
# %matplotlib inline
import os
from pathlib import Path

from matplotlib.figure import Figure

from tinycnn import (
    Conv2D,
    dense_baseline,
    load_mnist,
    load_mnist_or_subset,
    scale_images,
    seed_cnn,
    shift_accuracy,
    trace,
)
from tinycnn.plots import plot_shift_accuracy, save_png
from tinycnn.teach.probes import shift_images

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set
EPOCHS = 1


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


(x_train, y_train), (x_test, y_test) = load_mnist(subset=True) if FAST else load_mnist_or_subset()
x_train, x_test = scale_images(x_train), scale_images(x_test)
print(f"training {x_train.shape}, test {x_test.shape}, {EPOCHS} epoch(s)")

# %% [markdown]
# ## Size
#
# The two models, built with the same seed:

# %%
dense = dense_baseline(seed=0)
cnn = seed_cnn(seed=0)
dense.summary()
cnn.summary()
first = next(layer for layer in dense.layers if layer.params)  # Dense(512) on 784 pixels
convolutions = sum(layer.count_params() for layer in cnn.layers if isinstance(layer, Conv2D))
print(f"dense / cnn parameters: {dense.count_params() / cnn.count_params():.1f}x")
print(f"the dense network's first layer: {first.count_params():,} parameters "
      f"({first.params['w'].size:,} weights and {first.params['b'].size} biases)")  # fmt: skip
print(f"the CNN's convolutions: {convolutions:,} parameters")

# %% [markdown]
# The dense network has about three times as many parameters (the ratio printed last): its
# first layer alone connects each of the 784 pixels to 512 units, a weight for every pair plus
# a bias per unit. The CNN's convolutions have far fewer parameters between them, because a
# 3 x 3 filter is *shared* by all positions of the image.
#
# Sharing does not make the arithmetic cheap, though. `trace` counts the floating-point
# operations of one training step (forward and backward) per layer:

# %%
flops = {}
for name, model in [("dense", dense), ("cnn", cnn)]:
    cost = trace(model, x_train[:1])
    forward, backward = cost.forward_flops, cost.backward_flops
    flops[name] = forward + backward
    print(
        f"{name:>5}: {model.count_params():>7,} parameters, {forward / 1e6:5.2f} MFLOP forward, "
        f"{backward / 1e6:5.2f} MFLOP backward per image"
    )
print(f"cnn / dense arithmetic: {flops['cnn'] / flops['dense']:.1f}x")
assert cnn.count_params() < dense.count_params() and flops["cnn"] > flops["dense"]

# %% [markdown]
# The CNN uses about a third of the parameters but about four times the arithmetic (the two
# ratios printed): each shared weight is used at every position. That is the trade
# convolutions make, and why the seed CNN's speed depends on the convolution kernels
# (tutorial 8).
#
# ## Accuracy
#
# Same optimizer (Adam, learning rate $10^{-3}$), same batches (seed 0), same number of
# epochs:

# %%
histories = {}
for name, model in [("dense", dense), ("cnn", cnn)]:
    model.compile(optimizer="adam")
    print(f"--- {name}")
    histories[name] = model.fit(
        x_train, y_train, epochs=EPOCHS, batch_size=64, validation_split=0.1, seed=0, verbose=2
    )

accuracy = {
    name: model.evaluate(x_test, y_test)[1] for name, model in [("dense", dense), ("cnn", cnn)]
}
for name, value in accuracy.items():
    print(f"{name:>5}: test accuracy {value:.2%} ({round((1 - value) * len(y_test))} mistakes)")

# %% [markdown]
# The CNN makes fewer mistakes with fewer parameters. Trained for a few epochs on the full set
# the gap is about a percentage point (98% against 99%), which means the dense network makes
# roughly twice as many mistakes.
#
# ## Moving the digits
#
# MNIST digits are centred by their centre of mass. What if they are not? We move every test
# image a few pixels to the right (pixels pushed past the border are lost, zeros come in from
# the left) and measure the accuracy again.

# %%
sample = x_test[:1]
figure = Figure(figsize=(7.5, 1.8), layout="constrained")
for shift, ax in zip(range(5), figure.subplots(1, 5), strict=True):
    ax.imshow(shift_images(sample, 0, shift)[0, :, :, 0], cmap="gray_r")
    ax.set_title(f"shifted {shift} px")
    ax.set_axis_off()
if out("06_shifted.png"):
    save_png(figure, out("06_shifted.png"))
figure

# %% [markdown]
# **Predict, then run.** Unshifted, both networks get most test digits right (the accuracies
# printed above). Shifted 3 pixels to the right, which one keeps more of its accuracy, and
# roughly how much does each keep? Write your guesses in the first line of the next cell, then
# run it.

# %%
my_guess_dense, my_guess_cnn = None, None  # your guesses: accuracy at a 3 px shift
shifts = list(range(6))
curves = {
    name: shift_accuracy(model, x_test, y_test, shifts=shifts)
    for name, model in [("dense", dense), ("cnn", cnn)]
}
for name, values in curves.items():
    print(f"{name:>5}:", "  ".join(f"{s} px {a:.1%}" for s, a in zip(shifts, values, strict=True)))
print(f"your guesses at 3 px: dense {my_guess_dense}, cnn {my_guess_cnn}")

# %%
plot_shift_accuracy(shifts, curves, out=out("06_shift_accuracy.png"))

# %% [markdown]
# The dense network collapses: a dense unit is tied to fixed pixel positions, and a digit two
# or three pixels off lands on weights that were never trained for it. The CNN degrades much
# more slowly. Its filters respond to a stroke wherever it is (a convolution is
# *equivariant*: shift the input and the feature maps shift with it), and each max pooling
# forgets a pixel or so of position.
#
# It is not perfectly invariant, though: after two pooling stages the final dense layers still
# look at fixed positions of a 5 x 5 grid, so a large shift hurts the CNN as well. The usual
# remedy is data augmentation, training on randomly shifted and rotated digits
# (`model.fit(..., augment=True)` or `tinycnn train --augment`).
#
# [Tutorial 7](07_inside_the_cnn.py) opens the trained CNN to see what its filters learned.

# %% [markdown]
# ## Your turn
#
# The dense baseline is made of Dense and Dropout: write their backward passes. Exercises:
# `dense_backward`, `dropout`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start dense_backward my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["dense_backward", "dropout"]:
    print(check(name, "my_exercises"), end="\n\n")
