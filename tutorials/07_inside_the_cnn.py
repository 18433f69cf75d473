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
# # 7. Inside the trained CNN: filters, feature maps, mistakes, and `doctor`
#
# A trained network is not a black box: every number in it can be printed and drawn. In this
# tutorial we look at
#
# 1. the filters the first convolution learned, against the random ones it started from,
# 2. the feature maps one digit produces layer by layer,
# 3. the probabilities the network gives, and the mistakes it makes,
# 4. `doctor`, the sanity checks worth running before any long training run.
#
# **How long it takes.** By default we train the seed CNN for 1 epoch on the full MNIST set
# (under a minute on a 2-core machine with the Numba kernels; the embedded subset
# if the full set is not found); the page prints how many test digits it then gets wrong. With
# `TINYCNN_TUTORIAL_FAST=1` (the test suite and the docs build) it trains 1 epoch on the
# subset: the filters are rougher and the network makes more mistakes (about 5%), so the
# rendered pictures show a less finished network.

# %%
# %matplotlib inline
import json
import os
import threading
import urllib.request
from pathlib import Path

import numpy as np

from tinycnn import (
    doctor,
    feature_maps,
    load_mnist,
    load_mnist_or_subset,
    scale_images,
    seed_cnn,
)
from tinycnn.plots import (
    misclassified,
    plot_feature_maps,
    plot_filters,
    plot_misclassified,
    plot_probabilities,
)
from tinycnn.serve import make_server
from tinycnn.teach.probes import class_probabilities
from tinycnn.training.metrics import confusion_matrix

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set
EPOCHS = 1


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


(x_train, y_train), (x_test, y_test) = load_mnist(subset=True) if FAST else load_mnist_or_subset()
x_train, x_test = scale_images(x_train), scale_images(x_test)

untrained = seed_cnn(seed=0)
model = seed_cnn(seed=0)
model.compile(optimizer="adam")
model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, seed=0, verbose=2)
print(f"test accuracy {model.evaluate(x_test, y_test)[1]:.2%}")

# %% [markdown]
# ## What the first layer looks for
#
# The first convolution has 32 filters of 3 x 3 weights on the single grey channel. Before
# training they are random (Glorot-uniform), salt and pepper:

# %%
plot_filters(untrained, out=out("07_filters_untrained.png"))

# %% [markdown]
# After training, many have turned into small edge and stroke detectors: a column of positive
# weights beside a column of negative ones responds to a vertical edge, a diagonal pattern to a
# slanted stroke. (With only one epoch on a small set many filters still look close to their
# random start: the network has barely needed to change them.)

# %%
plot_filters(model, out=out("07_filters_trained.png"))

# %% [markdown]
# The second convolution has 64 filters over 32 input channels, 18,432 weights that are hard
# to read as pictures; `plot_filters(model, "conv2d_1")` draws them as a mosaic, one 3 x 3 tile
# per (input channel, filter) pair. More telling is what the layers *do* to an image.
#
# ## Feature maps
#
# Each conv layer turns its input into one map per filter (after the ReLU), and each pooling
# layer halves the maps' size. The first maps are recognisably the digit, lit up along the
# edges each filter likes; the deeper ones are coarser and more abstract.

# %%
image, label = x_test[0], y_test[0]
plot_feature_maps(model, image, max_channels=8, out=out("07_feature_maps.png"))

# %% [markdown]
# ## One value of a feature map, and the draw-a-digit page
#
# Every value of a conv map is a small sum: the 3 x 3 filter laid on the input at that place,
# nine multiplies per input channel, plus the bias, then the ReLU. The **draw-a-digit page**
# shows it for any value you click. Run
#
# ```console
# $ tinycnn serve              # the small model shipped with tinycnn
# $ tinycnn serve model.npz    # or a model of your own, e.g. from `tinycnn train`
# ```
#
# and open <http://127.0.0.1:8000/>. Draw a digit: the page shows what the network sees, its
# probabilities and every conv layer's feature maps. Click a map: it shows that map's filter for
# each input channel, the input values under it, the products and their sum with the bias, and
# outlines the value's receptive field on the 28 x 28 input. The page asks the server
# (`/api/explain`), which computes the answer from the model's own weights. Here we ask it the
# same question about this test digit and this model, at the strongest value of map 5 of the
# second conv layer.
#
# **Predict, then run.** How many products add up to that one value (before the bias), and how
# many pixels of the 28 x 28 input, in height and width, can change it? Write your guesses in
# the first line of the next cell.

# %%
my_guess_products, my_guess_field = None, None  # your guesses, e.g. 9 and (3, 3)
maps = dict(feature_maps(model, image))["conv2d_1"]  # (11, 11, 64)
row, col = (int(i) for i in np.unravel_index(np.argmax(maps[..., 5]), maps.shape[:2]))
canvas = np.rint(image[..., 0] * 255).astype(int)  # the digit as the page would send it
question = {"width": 28, "height": 28, "pixels": canvas.ravel().tolist()}
question.update(layer=1, channel=5, row=row, col=col)

server = make_server(model, port=0)  # a free port on 127.0.0.1
threading.Thread(target=server.serve_forever, daemon=True).start()
request = urllib.request.Request(
    server.url + "api/explain", json.dumps(question).encode(), {"Content-Type": "application/json"}
)
with urllib.request.urlopen(request, timeout=60) as response:
    answer = json.load(response)
server.shutdown()
server.server_close()

products = np.array(answer["products"])  # (C_in, 3, 3): one 3 x 3 block per input channel
print(f"{answer['layer']}, map {answer['channel']}, row {row}, column {col}:")
print(f"  {products.size} products (32 input channels x 9) sum to {products.sum():+.4f}")
print(f"  + bias {answer['bias']:+.4f} = {answer['z']:+.4f};  ReLU -> {answer['value']:.4f}")
print("  receptive field on the 28 x 28 input:", answer["receptive_field"])
print(f"your guesses: {my_guess_products} products, a field of {my_guess_field}")
field = answer["receptive_field"]
assert abs(products.sum() + answer["bias"] - answer["z"]) < 1e-9
assert field["bottom"] - field["top"] + 1 == field["right"] - field["left"] + 1 == 8

# %% [markdown]
# The receptive field is 8 x 8 pixels: 3 x 3 positions of the second conv layer, each a 2 x 2
# pooling window over 3 x 3 windows of the first.
#
# Feature maps are where dead units show up: a ReLU channel that is zero for every image never
# passes a gradient again. `doctor` below counts them.
#
# ## Probabilities
#
# The softmax output is a probability for each digit. For a typical test digit the network is
# nearly certain:

# %%
plot_probabilities(model, image, label=label, out=out("07_probabilities.png"))

# %% [markdown]
# ## The mistakes
#
# `class_probabilities` runs the whole test set; the mistakes are the images whose most
# probable class is wrong, and the most interesting are those the network got wrong
# *confidently*:

# %%
probs = class_probabilities(model, x_test)
wrong = misclassified(y_test, probs)
print(f"{len(wrong)} mistakes among {len(y_test)} test images")
plot_misclassified(x_test, y_test, probs, max_images=15, out=out("07_mistakes.png"))

# %% [markdown]
# Many confident mistakes are digits a person would hesitate over too: a 4 closed at the top
# like a 9, a 7 with a crossbar read as a 2, a 5 whose loop nearly closes. A few are plainly
# mislabelled in the data set itself. Which confusions are most common?

# %%
counts = confusion_matrix(y_test, probs.argmax(axis=1))
np.fill_diagonal(counts, 0)
pairs = sorted(np.ndindex(counts.shape), key=lambda pair: -counts[pair])[:6]
for true, predicted in pairs:
    print(f"true {true} predicted as {predicted}: {counts[true, predicted]} times")

# %% [markdown]
# ## `doctor`: checks before a long run
#
# Before spending an hour on training it pays to spend a minute on sanity checks. `doctor`
# runs the classic ones (the model you pass is never changed; the checks that train work on a
# copy):
#
# - **input scale**: pixels should be scaled (0..1), not raw bytes (0..255);
# - **initial loss**: an untrained 10-class network should say about 1/10 for every class,
#   so its cross-entropy should be near $\ln 10 \approx 2.303$;
# - **overfit 20 examples**: any working network can memorise 20 images; if it cannot,
#   something (labels, gradients, learning rate) is broken;
# - **update ratio**: after a few Adam steps, $\lVert\Delta w\rVert / \lVert w\rVert$ should be
#   around $10^{-3}$ for every weight tensor;
# - **dead ReLUs** and **activation scale** through the layers.
#
# On a fresh seed CNN with properly scaled inputs everything is fine:

# %%
report = doctor(seed_cnn(seed=0), x_train, y_train, verbose=False)
print(report)

# %% [markdown]
# Now a classic slip: forgetting to scale the pixels. Nothing crashes, and the network can even
# still memorise 20 examples, but it starts out confidently wrong and trains badly. `doctor`
# points at the cause: inputs in 0..255, and an initial loss far above $\ln 10$.

# %%
(raw_train, raw_labels), _ = load_mnist(subset=True)
report = doctor(seed_cnn(seed=0), raw_train.astype(np.float32), raw_labels, verbose=False)
print(report)
assert report["input scale"].status != "ok"

# %% [markdown]
# The same checks run from the command line with `tinycnn doctor`. Next,
# [tutorial 8](08_making_it_fast.py) measures where the training time goes and how the Numba
# kernels cut it.

# %% [markdown]
# ## Your turn
#
# The feature maps above come from these two forward passes: write them. Exercises:
# `conv2d_forward`, `maxpool_forward`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start conv2d_forward my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["conv2d_forward", "maxpool_forward"]:
    print(check(name, "my_exercises"), end="\n\n")
