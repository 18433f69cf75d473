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
# # 5. Training the seed CNN end to end
#
# Time to train a real network: the *seed CNN*, two convolution + pooling stages, a dense
# layer with dropout and a softmax over the ten digits, with Adam on mini-batches of 64 images.
# We follow the whole workflow:
#
# 1. data: training, validation and test sets,
# 2. the model and where its 225,034 parameters are,
# 3. training, with the loss and accuracy curves,
# 4. the evaluation report and the confusion matrix on the test set,
# 5. saving the model and loading it back.
#
# **How long it takes.** By default this tutorial trains for 5 epochs on the full MNIST set
# (if `TINYCNN_DATA_DIR` points to it; else on the embedded 10,000-image subset): about two
# minutes on a 2-core machine with the Numba kernels, for about **98.8% test accuracy**; the
# command line's default 10 epochs reach 99.2%. (On a machine busy with other work tinycnn uses
# only the idle cores for its matrix multiplies; the FAQ says how to choose the threads
# yourself.) With `TINYCNN_TUTORIAL_FAST=1` (the test suite and the docs
# build) it trains 1 epoch on the subset only, which reaches about 95%; the numbers printed on
# the rendered page are from such a quick run. The same training from the command line:
#
# ```console
# $ tinycnn train --epochs 5 --seed 0 --out seed_cnn.npz
# ```

# %%
# %matplotlib inline
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import tinycnn
from tinycnn import load_mnist, load_mnist_or_subset, load_model, scale_images, seed_cnn
from tinycnn.plots import plot_confusion_matrix, plot_training_curves
from tinycnn.training.metrics import classification_report, confusion_matrix

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set
EPOCHS = 1 if FAST else 5


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


# %% [markdown]
# ## Data
#
# Pixels are scaled to [0, 1]. `fit` will hold out 10% of the training images for validation
# (stratified by digit, seeded), and the test set is used once, at the very end.

# %%
(x_train, y_train), (x_test, y_test) = load_mnist(subset=True) if FAST else load_mnist_or_subset()
x_train, x_test = scale_images(x_train), scale_images(x_test)
print(f"training {x_train.shape}, test {x_test.shape}, {EPOCHS} epoch(s)")

# %% [markdown]
# ## The model
#
# `seed_cnn` builds the architecture of the classic Keras MNIST example:

# %%
model = seed_cnn(seed=0)
model.summary()

# %% [markdown]
# Every parameter count follows from the shapes:
#
# | layer | output | parameters |
# |---|---|---|
# | Conv2D(32, 3x3) | 26 x 26 x 32 | 3·3·1·32 + 32 = 320 |
# | MaxPool2D(2) | 13 x 13 x 32 | 0 |
# | Conv2D(64, 3x3) | 11 x 11 x 64 | 3·3·32·64 + 64 = 18,496 |
# | MaxPool2D(2) | 5 x 5 x 64 | 0 (the 11th row and column are dropped) |
# | Flatten | 1600 | 0 |
# | Dense(128) | 128 | 1600·128 + 128 = 204,928 |
# | Dropout(0.5) | 128 | 0 |
# | Dense(10, softmax) | 10 | 128·10 + 10 = 1,290 |
#
# 91% of the parameters sit in the first dense layer, but 85% of the arithmetic happens in the
# second convolution: every one of its 18,432 kernel weights is used at all 121 positions.

# %%
assert model.count_params() == 320 + 18_496 + 204_928 + 1_290 == 225_034

# %% [markdown]
# ## Training
#
# `compile` picks the optimizer and the loss. Adam with Keras's defaults (learning rate
# $10^{-3}$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\hat\epsilon = 10^{-7}$) and the fused softmax
# cross-entropy. `fit` shuffles the training set every epoch (seeded), trains on mini-batches
# and evaluates on the validation set after each epoch. Every batch runs the layers you read in
# tutorial 3, `forward` then `backward`: a breakpoint in `Conv2D.forward` stops here. The NumPy
# and Numba kernels give the same numbers; Numba is just faster. `fit`'s first line says what
# runs; `model.compile(..., jit_compile=True)` would run fused steps instead (tutorial 8).

# %%
model.compile(optimizer="adam", loss="softmax_cross_entropy", metrics=("accuracy",))
start = time.perf_counter()
history = model.fit(
    x_train, y_train, epochs=EPOCHS, batch_size=64, validation_split=0.1, seed=0, verbose=2
)
print(f"trained in {time.perf_counter() - start:.0f} s with the {tinycnn.get_backend()} kernels")

# %%
plot_training_curves(history, out=out("05_curves.png"))

# %% [markdown]
# A fast run (one epoch) has a single point per curve. Over several epochs the training loss
# keeps falling while the validation loss flattens out: the gap between the two is the
# beginning of overfitting, which the dropout layer keeps small. The dashed line marks the
# epoch with the lowest validation loss, the one `EarlyStopping(restore_best_weights=True)`
# would keep.
#
# Validation accuracy is usually *higher* than training accuracy in the first epochs. Not a
# bug: the training numbers are averaged over an epoch during which the network was still
# improving, and they are measured with dropout switched on.

# %%
print({key: [round(v, 4) for v in values] for key, values in history.history.items()})

# %% [markdown]
# ## Evaluation on the test set

# %%
test_loss, test_accuracy = model.evaluate(x_test, y_test)
print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.2%}")

y_pred = model.predict_classes(x_test)
print(classification_report(y_test, y_pred))

# %% [markdown]
# *Precision* of a class: of the images predicted as that digit, the share that really are.
# *Recall*: of the images of that digit, the share found. F1 is their harmonic mean, and
# *support* the number of test images of the digit. The confusion matrix shows which digits
# are mistaken for which (rows are the true digits, columns the predictions):

# %%
print(confusion_matrix(y_test, y_pred))

# %%
plot_confusion_matrix(y_test, y_pred, out=out("05_confusion.png"))

# %% [markdown]
# With full training the numbers are much better: `tinycnn train --seed 0` (10 epochs on the
# 54,000 training images left after the validation split) reaches a test accuracy of 99.17%,
# 83 mistakes among 10,000 digits, mostly between digits that look alike (4 and 9, 7 and 2,
# 3 and 5). PyTorch reaches the same with this architecture (99.0% after 3 epochs, 99.3% after
# 10). Tutorial 7 looks at the mistakes.
#
# ## Saving and loading
#
# `model.save` writes the architecture, the weights and the optimizer state into one `.npz`
# file; `load_model` rebuilds the model, which then predicts exactly the same:

# %%
path = Path(tempfile.mkdtemp()) / "seed_cnn.npz"
model.save(path)
print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")
restored = load_model(path)
same = np.array_equal(restored.predict(x_test[:500]), model.predict(x_test[:500]))
print("identical predictions after loading:", same)

# %% [markdown]
# The command line works with the same files, e.g. `tinycnn evaluate seed_cnn.npz` for the
# report and confusion matrix above, and
# `tinycnn plot confusion seed_cnn.npz --out confusion.png` for the picture.
# [Tutorial 6](06_dense_vs_cnn.py) asks whether the convolutions were worth it.
