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
# # 1. MNIST and the IDX format: from bytes to arrays
#
# MNIST is 70,000 pictures of handwritten digits, 28 by 28 grey pixels each, with their labels:
# 60,000 for training and 10,000 for testing. It ships as four files in the *IDX* format, a
# tiny binary format made for it. In this tutorial we
#
# 1. write a small IDX file and read its bytes by hand,
# 2. open the real MNIST files and decode their headers,
# 3. load the data set with `tinycnn.load_mnist` and check a few facts about it,
# 4. look at the digits, first as numbers and then as pictures,
# 5. prepare them for a network: scaling, one-hot labels and a validation split.
#
# It runs in a few seconds. Figures are shown inline in a notebook; run as a script, it saves
# them in the folder named by `TINYCNN_TUTORIAL_FIGURES` (if set) and shows nothing.

# %%
# %matplotlib inline
import gzip
import os
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tinycnn.data import (
    load_idx,
    load_mnist,
    load_mnist_or_subset,
    one_hot,
    save_idx,
    scale_images,
    stratified_split,
)
from tinycnn.plots import save_png

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


# %% [markdown]
# ## An IDX file, byte by byte
#
# An IDX file is a short header followed by the numbers of an array in C order (last index
# fastest), big-endian:
#
# | bytes | content |
# |---|---|
# | 0, 1 | `00 00`, always zero |
# | 2 | type code: `08` uint8, `09` int8, `0B` int16, `0C` int32, `0D` float32, `0E` float64 |
# | 3 | the number of dimensions, `ndim` |
# | 4 ... 4 + 4·ndim | the size of each dimension, a big-endian 32-bit unsigned integer |
# | then | the numbers |
#
# Let us write a 2 x 3 array of bytes and look at what lands on disk.
#
# **Predict, then run.** How many bytes long is the file? Use the table, write your guess in
# the first line of the next cell, then run it.

# %%
my_guess = None  # your guess, a whole number of bytes
workdir = Path(tempfile.mkdtemp())
tiny = np.array([[1, 2, 3], [250, 251, 252]], dtype=np.uint8)
save_idx(workdir / "tiny-idx2-ubyte", tiny)

raw = (workdir / "tiny-idx2-ubyte").read_bytes()
print(len(raw), "bytes:", raw.hex(" "))
print("your guess:", my_guess)

# %% [markdown]
# `00 00` (magic), `08` (unsigned bytes), `02` (two dimensions), then `00 00 00 02` and
# `00 00 00 03` (the shape 2 x 3), then the six numbers row by row:
# 4 + 4·2 + 6 = 18 bytes. Decoding it by hand takes three lines of NumPy:

# %%
type_code, ndim = raw[2], raw[3]
shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
print(f"type code 0x{type_code:02X}, ndim {ndim}, shape {shape}")
print(data)
assert np.array_equal(data, tiny)
assert np.array_equal(load_idx(workdir / "tiny-idx2-ubyte"), tiny)

# %% [markdown]
# `load_idx` does the same, plus every check a careful reader should make: the magic bytes,
# a known type code, and a file length of exactly `4 + 4·ndim + prod(shape)·itemsize` bytes,
# so that a truncated download or a corrupted header is an error rather than garbage.
#
# ## The real MNIST files
#
# The full data set lives wherever `TINYCNN_DATA_DIR` points, or in tinycnn's cache folder,
# where `load_mnist()` downloads it when it is nowhere else (the FAQ has the order). This
# tutorial needs no internet: without the full set it reads the subset of real MNIST embedded
# in the package, 10,000 training and 2,000 test images stored in the same format. Either way
# the files are gzipped IDX, recognised by the gzip magic bytes `1f 8b`.

# %%
data_dir = os.environ.get("TINYCNN_DATA_DIR")
folder = Path(data_dir) if data_dir else Path(str(files("tinycnn.data") / "mnist_subset"))
images_file = next(folder.glob("train-images-idx3-ubyte*"))
print("reading", images_file.name, "from", "TINYCNN_DATA_DIR" if data_dir else "the subset")

with open(images_file, "rb") as handle:
    print("first bytes on disk:", handle.read(2).hex(" "), "(gzip)")
with gzip.open(images_file, "rb") as handle:
    header = handle.read(16)
print("decompressed header:", header.hex(" "))
print("shape:", [int(n) for n in np.frombuffer(header, dtype=">u4", count=3, offset=4)])

# %% [markdown]
# Type `08`, three dimensions: N images of 28 rows of 28 columns, one unsigned byte per pixel.
# The labels file has one dimension, N bytes with the digits 0 to 9.
#
# ## Loading the data set
#
# `load_mnist_or_subset()` returns the full set when it can find it, else the embedded subset
# (with a one-line notice). It gives NHWC arrays, the layout of the whole library: images
# `(N, H, W, C)` with one channel, and labels `(N,)`, both `uint8`.

# %%
(x_train, y_train), (x_test, y_test) = load_mnist_or_subset()
print("x_train", x_train.shape, x_train.dtype, " y_train", y_train.shape, y_train.dtype)
print("x_test ", x_test.shape, x_test.dtype, " y_test ", y_test.shape, y_test.dtype)
print("first ten training labels:", y_train[:10])
print("training images per digit:", np.bincount(y_train, minlength=10))
print(f"mean pixel: {x_train.mean():.3f} of 255 ({x_train.mean() / 255:.4f} after scaling)")

# %% [markdown]
# On the full set the first ten training labels are 5 0 4 1 9 2 1 3 1 4, the classes hold
# between 5,421 (fives) and 6,742 (ones) training images, and the mean pixel is 33.318, i.e.
# 0.1307 after scaling to [0, 1]. The subset keeps the class proportions (it was drawn
# stratified). `load_mnist(subset=True)` always gives the subset:

# %%
(x_small, y_small), _ = load_mnist(subset=True)
print(len(x_small), "subset images; share of each digit:")
print(np.round(np.bincount(y_small) / len(y_small), 3))

# %% [markdown]
# ## A digit is a 28 x 28 array of numbers
#
# Zero is white paper, 255 full ink. Printed with one character per pixel (darker characters
# for more ink), the first training image is recognisable already:

# %%
ramp = np.array(list(" .:-=+*#%@"))
digit = x_train[0, :, :, 0].astype(int)  # int: uint8 arithmetic would wrap around
print(f"label {y_train[0]}")
print("\n".join("".join(ramp[row * len(ramp) // 256]) for row in digit))

# %%
print("the middle rows, as numbers:")
print(digit[10:16, 8:20])

# %% [markdown]
# And as pictures: the first 40 training images with their labels.


# %%
def digit_grid(images, labels, rows=4, columns=10):
    """A grid of digits with their labels as titles (matplotlib Figure, no pyplot)."""
    figure = Figure(figsize=(columns * 0.9, rows * 1.1), layout="constrained")
    for k, ax in enumerate(figure.subplots(rows, columns).ravel()):
        ax.imshow(images[k, :, :, 0], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(str(labels[k]), fontsize=10)
        ax.set_axis_off()
    return figure


figure = digit_grid(x_train, y_train)
if out("01_digits.png"):
    save_png(figure, out("01_digits.png"))
figure

# %% [markdown]
# ## Ready for a network
#
# Networks train best on small floating-point numbers, so `scale_images` maps the bytes
# 0..255 to float32 in [0, 1]. Loss functions want either integer labels or one-hot rows
# (tinycnn's loss takes both). And to choose hyperparameters honestly we hold out part of the
# training set for validation, with the same share of each digit in both parts.

# %%
x = scale_images(x_train)
print(x.dtype, x.min(), x.max())
print("one-hot of", y_train[:3], "\n", one_hot(y_train[:3]))

(x_fit, y_fit), (x_val, y_val) = stratified_split(x, y_train, validation_fraction=0.1, seed=0)
print("fit", x_fit.shape, " validation", x_val.shape)
print("share of each digit, fit:       ", np.round(np.bincount(y_fit) / len(y_fit), 3))
print("share of each digit, validation:", np.round(np.bincount(y_val) / len(y_val), 3))

# %% [markdown]
# The test set stays untouched until the very end: it is the estimate of how the network does
# on digits it has never seen. Next, [tutorial 2](02_convolution_by_hand.py) builds the
# operation that makes a network convolutional.

# %% [markdown]
# ## Your turn
#
# No exercise grades reading IDX files: change `tiny` above to a float32 array, predict the
# file's length and type code from the table, and rerun the two cells. The first graded
# exercise, `im2col`, is the next tutorial's subject; start it in a folder of your own (it writes
# `my_exercises/im2col.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in after tutorial 2, and run the cell below (or
# `tinycnn exercises check im2col my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start im2col my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["im2col"]:
    print(check(name, "my_exercises"), end="\n\n")
