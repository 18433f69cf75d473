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
# # 0. Intuition first: why convolutions, and what training is
#
# Before any layer is taken apart, this page answers four questions with small experiments you
# can rerun in seconds:
#
# 1. why a dense network wastes parameters on images,
# 2. what locality, weight sharing and translation mean for a convolution,
# 3. what a loss and gradient descent are,
# 4. what the learning rate and the batch size do.
#
# Every number in the text is printed by the code cell next to it: change a setting and rerun.

# %%
# %matplotlib inline
import os
import time
from pathlib import Path

import numpy as np

from tinycnn import (
    SGD,
    Conv2D,
    Dense,
    Flatten,
    Sequential,
    SoftmaxCrossEntropy,
    load_mnist,
    scale_images,
    seed_cnn,
)
from tinycnn.plots import (
    plot_architecture,
    plot_optimizer_paths,
    plot_sliding_kernel,
    plot_training_curves,
)

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


(x_train, y_train), (x_test, y_test) = load_mnist(subset=True)  # embedded: no download
x_train, x_test = scale_images(x_train), scale_images(x_test)
print(f"{len(x_train):,} training and {len(x_test):,} test images of shape {x_train.shape[1:]}")

# %% [markdown]
# ## The order of the layers
#
# A convolutional network for digits reads like this, left to right: convolutions find small
# patterns, pooling shrinks the maps, and dense layers at the end turn what was found into ten
# scores, one per digit. This is the *seed CNN* the later tutorials train:

# %%
seed = seed_cnn(seed=0)
plot_architecture(seed, out=out("00_architecture.png"))

# %% [markdown]
# ## 1. A dense layer on an image spends a weight on every pixel
#
# A dense layer connects every input pixel to every unit: it does not know that pixels next to
# each other belong together, so it has to learn everything separately for every position. A
# convolution looks at a small window and reuses the same few weights everywhere. Count them:

# %%
dense_layer = Sequential([Flatten(), Dense(32)], input_shape=(28, 28, 1), seed=0)
conv_layer = Sequential([Conv2D(32, 3)], input_shape=(28, 28, 1), seed=0)
dense_params, conv_params = dense_layer.count_params(), conv_layer.count_params()
print(f"Dense(32) on 28x28 pixels: {dense_params:,} parameters")
print(f"Conv2D(32, 3x3):           {conv_params:,} parameters")
print(f"the dense layer needs {dense_params / conv_params:.0f} times as many")
print(f"whole models: seed CNN {seed.count_params():,} parameters, ", end="")
print(f"of which its convolutions {sum(layer.count_params() for layer in seed.layers[:4]):,}")

# %% [markdown]
# Both produce 32 numbers per position, but the convolution's 32 filters are only 3x3 each.
# Where do the seed CNN's parameters go then? Mostly into its first dense layer, the one that
# reads the flattened maps: the figure above shows the count per layer.
#
# ## 2. Locality, weight sharing and translation
#
# **Locality**: an output value depends only on a small window of the input. **Weight
# sharing**: every window is multiplied by the same kernel. Here is d2l's worked example, a 2x2
# kernel on a 3x3 input; the first output is the sum of four products:

# %%
x_small = np.arange(9.0).reshape(3, 3)
k_small = np.arange(4.0).reshape(2, 2)
window = x_small[:2, :2]
terms = " + ".join(f"{a:g}·{b:g}" for a, b in zip(window.ravel(), k_small.ravel(), strict=True))
print(f"{terms} = {(window * k_small).sum():g}")
conv = Conv2D(1, 2)
conv.build((3, 3, 1))
conv.set_weights([k_small[:, :, None, None], np.zeros(1)])
print("Conv2D computes the whole map:\n", conv.forward(x_small[None, :, :, None])[0, :, :, 0])

# %% [markdown]
# The window slides over the input; with a stride it jumps, and zero padding around the input
# lets it visit the border. Tutorial 2 computes this by hand; the picture shows one position:

# %%
plot_sliding_kernel(strides=2, padding=1, frame=4, out=out("00_sliding.png"))

# %% [markdown]
# **Translation**: because every window uses the same kernel, shifting the input shifts the
# output by the same amount, and the values stay the same up to float32 rounding (the
# convolution is *equivariant*). A dense layer has no such property: its weights for the
# shifted pixels are different weights.
#
# **Predict, then run.** Shift a digit 3 pixels to the right. By how much, at most, do the
# conv maps change (once shifted back), and the dense layer's outputs: 0, about 0.001, or about
# as much as the outputs themselves? Write your guesses in the first lines of the next cell.

# %%
my_guess_conv, my_guess_dense = None, None  # your guesses, e.g. 0.001 and 0.5
digit = x_test[0]  # (28, 28, 1)
shift = 3
shifted = np.roll(digit, shift, axis=1)  # 3 pixels to the right (the border is empty)
conv32 = conv_layer.layers[0]
maps, maps_shifted = conv32.forward(digit[None])[0], conv32.forward(shifted[None])[0]
conv_gap = np.abs(np.roll(maps, shift, axis=1) - maps_shifted).max()
dense_out, dense_out_shifted = dense_layer.forward(digit[None]), dense_layer.forward(shifted[None])
dense_gap = np.abs(dense_out - dense_out_shifted).max()
print(f"conv:  shift the input, the maps shift: largest difference {conv_gap:.2g}")
print(f"dense: shift the input, outputs change by up to {dense_gap:.3f} "
      f"(their size: {np.abs(dense_out).max():.3f})")  # fmt: skip
print(f"your guesses: conv {my_guess_conv}, dense {my_guess_dense}")
assert conv_gap < 1e-5 < dense_gap  # equal to rounding, against a real change

# %% [markdown]
# Pooling then makes the answer *tolerant* of small shifts; tutorial 6 measures how much better
# a CNN copes with shifted digits than a dense network.
#
# ## 3. A loss, and gradient descent
#
# A network's last layer gives ten probabilities. The **loss** says how wrong they are: the
# cross-entropy is minus the log of the probability given to the right digit, averaged over a
# batch. An untrained network guesses, so its loss is near the log of the number of classes:

# %%
model = Sequential([Flatten(), Dense(10, activation="softmax")], input_shape=(28, 28, 1), seed=0)
loss = SoftmaxCrossEntropy()
batch_x, batch_y = x_train[:256], y_train[:256]
before = loss.forward(model.forward(batch_x, logits=True), batch_y)
print(f"loss of the untrained model: {before:.3f}   (log 10 = {np.log(10):.3f})")

# %% [markdown]
# **Gradient descent** lowers the loss step by step. The backward pass gives the gradient, the
# direction in which the loss grows fastest, for every weight; the optimizer moves each weight a
# little against it, `w = w - lr * gradient`. One step on this batch:

# %%
optimizer = SGD(learning_rate=0.5)
loss.forward(model.forward(batch_x, training=True, logits=True), batch_y)
model.backward(loss.backward())
params = [p for _, p, _ in model.params_and_grads()]
grads = [g for _, _, g in model.params_and_grads()]
optimizer.update(params, grads)
after = loss.forward(model.forward(batch_x, logits=True), batch_y)
print(f"after one step with learning rate 0.5: {after:.3f} (was {before:.3f})")

# %% [markdown]
# With two weights the loss is a surface and gradient descent a path down it. On a bowl that is
# much steeper in one direction than the other, the path zig-zags across the steep direction;
# momentum averages the zig-zag away (the optimizers page of the docs has the formulas):

# %%
figure = plot_optimizer_paths(out=out("00_optimizer_paths.png"))
for label, path in figure.paths.items():
    print(f"{label:32s} ends at ({path[-1, 0]:9.3g}, {path[-1, 1]:9.3g})")
figure

# %% [markdown]
# ## 4. The learning rate and the batch size
#
# The **learning rate** is the size of each step. Too small and training crawls; too large and
# every step overshoots the bottom of the valley: the loss leaps above where it started and
# jumps around instead of settling. Small runs of the same dense model, the same data and
# seed, differing only in the learning rate (the cell checks each claim it prints):

# %%
n_images, epochs = (2000, 3) if FAST else (10_000, 5)
x_small_set, y_small_set = x_train[:n_images], y_train[:n_images]


def small_run(learning_rate, batch_size):
    """Train a softmax-regression model on the small set; return its History and seconds."""
    net = Sequential([Flatten(), Dense(10, activation="softmax")], input_shape=(28, 28, 1), seed=0)
    net.compile(SGD(learning_rate))
    start = time.perf_counter()
    history = net.fit(x_small_set, y_small_set, epochs=epochs, batch_size=batch_size,
                      validation_data=(x_test, y_test), seed=0, verbose=0)  # fmt: skip
    return history, time.perf_counter() - start


rates = [0.001, 0.1, 5.0]
by_rate = {rate: small_run(rate, 32)[0] for rate in rates}
for rate, history in by_rate.items():
    print(f"learning rate {rate:<6g}: training loss per epoch "
          + " ".join(f"{v:.3f}" for v in history.history["loss"])
          + f", test accuracy {history.history['val_accuracy'][-1]:.1%}")  # fmt: skip

slow, good, large = (by_rate[rate].history for rate in rates)
# The first epoch's mean loss is the running mean over its steps: above the untrained model's
# loss means the steps made things worse before they made them better.
print(f"rate {rates[2]:g}: first epoch's mean loss {large['loss'][0]:.2f}, above the untrained "
      f"{before:.2f}; test loss per epoch " + " ".join(f"{v:.2f}" for v in large["val_loss"])
      + " (up and down)")  # fmt: skip
assert large["loss"][0] > before > good["loss"][0]
assert np.any(np.diff(large["val_loss"]) > 0)  # the test loss rises at least once
assert slow["loss"][-1] > good["loss"][-1] and large["val_accuracy"][-1] < good["val_accuracy"][-1]

# %% [markdown]
# The curves of the middle learning rate, per epoch, on the training images and on the test
# images (used here as validation data):

# %%
plot_training_curves(by_rate[rates[1]], out=out("00_curves_lr.png"))

# %% [markdown]
# The **batch size** is how many images each step averages its gradient over. Small batches
# give many noisy steps per epoch; large batches give few, smoother steps, each costing more.
# With the learning rate fixed, an epoch of large batches moves the weights less:

# %%
for batch_size in (8, 64, 512):
    history, seconds = small_run(0.1, batch_size)
    steps = -(-n_images // batch_size) * epochs
    print(f"batch size {batch_size:3d}: {steps:5d} steps in {seconds:.2f} s, "
          f"final training loss {history.history['loss'][-1]:.3f}, "
          f"test accuracy {history.history['val_accuracy'][-1]:.1%}")  # fmt: skip

# %% [markdown]
# That is training: a loss, its gradient from the backward pass, and many small steps whose size
# the learning rate sets and whose noise the batch size sets. Tutorial 1 reads the MNIST files,
# tutorials 2 and 3 open up the layers, and tutorial 5 trains the seed CNN shown at the top.

# %% [markdown]
# ## Your turn
#
# Write the loss of section 3 yourself: the softmax cross-entropy of a batch of logits, stable
# for large logits, and its gradient. Exercise: `softmax_cross_entropy`. Start it in a folder of
# your own (it writes `my_exercises/softmax_cross_entropy.py`, with the math, every shape and a
# `raise NotImplementedError` where your answer goes), fill it in, and run the cell below (or
# `tinycnn exercises check softmax_cross_entropy my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start softmax_cross_entropy my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all. Then rerun section 4 with a learning rate of your own between 0.1 and 5 and find
# where the first epoch's loss starts to rise above the untrained model's.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["softmax_cross_entropy"]:
    print(check(name, "my_exercises"), end="\n\n")
