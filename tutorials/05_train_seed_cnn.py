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
# minutes on a 2-core machine with the Numba kernels; the page then prints the test accuracy
# those epochs reach, and the command line's default 10 epochs reach about 99.2%. (On a
# machine busy with other work tinycnn uses only the idle cores for its matrix multiplies; the
# FAQ says how to choose the threads yourself.) With `TINYCNN_TUTORIAL_FAST=1` (the test suite
# and the docs build) it trains 1 epoch on the subset only, which reaches about 95%; the
# numbers printed on the rendered page are from such a quick run. The same training from the
# command line:
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
from tinycnn.plots import plot_architecture, plot_confusion_matrix, plot_training_curves
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
# multiply-adds per image: positions x kernel weights (conv), inputs x units (dense)
macs = {"conv2d": 26 * 26 * 32 * 9, "conv2d_1": 11 * 11 * 64 * 288, "dense": 1600 * 128}
macs["dense_1"] = 128 * 10
dense_share = 204_928 / model.count_params()
conv2_share = macs["conv2d_1"] / sum(macs.values())
print(
    f"first dense layer: {dense_share:.0%} of the parameters; "
    f"second convolution: {conv2_share:.0%} of the multiply-adds"
)
assert (round(100 * dense_share), round(100 * conv2_share)) == (91, 85)  # as the text says

# %% [markdown]
# The same numbers as a picture, the data flowing left to right:

# %%
plot_architecture(model, out=out("05_architecture.png"))

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
# Overfitting would show as a validation loss that stops falling and climbs again while the
# training loss keeps falling; the dashed line marks the epoch with the lowest validation loss,
# the one `EarlyStopping(restore_best_weights=True)` would keep. Whether *this* run shows it is
# read off its numbers, not assumed (a fast run has one epoch, a single point per curve):


# %%
def describe_curves(history):
    """What the loss curves of a run show, in words computed from their numbers."""
    loss, val_loss = history.history["loss"], history.history["val_loss"]
    acc, val_acc = history.history["accuracy"], history.history["val_accuracy"]
    best = int(np.argmin(val_loss))
    lines = [
        f"training loss {loss[0]:.4f} -> {loss[-1]:.4f}, validation loss "
        f"{val_loss[0]:.4f} -> {val_loss[-1]:.4f} (lowest after epoch {best + 1})"
    ]
    if len(loss) < 2:
        lines.append("one epoch: no trend to read yet")
    elif best < len(val_loss) - 1:
        lines.append(
            f"the validation loss rose from {val_loss[best]:.4f} after epoch {best + 1} to "
            f"{val_loss[-1]:.4f}: overfitting has begun"
        )
    else:
        lines.append("the validation loss still fell in the last epoch: no overfitting yet")
    if val_acc[0] > acc[0]:
        lines.append(
            f"epoch 1: validation accuracy {val_acc[0]:.2%} above training accuracy {acc[0]:.2%}"
        )
    return lines


print("\n".join(describe_curves(history)))

# %% [markdown]
# Validation accuracy is often *higher* than training accuracy in the first epochs (the last
# line above says when it is). Not a bug: the training numbers are averaged over an epoch during
# which the network was still improving, and they are measured with dropout switched on.

# %%
print({key: [round(v, 4) for v in values] for key, values in history.history.items()})

# %% [markdown]
# ## Evaluation on the test set
#
# **Predict, then run.** The last validation accuracy is printed above. Will the test accuracy
# be higher, lower, or within a few tenths of a percent of it? Write your guess in the first
# line of the next cell.

# %%
my_guess = None  # your guess: "higher", "lower" or "about the same"
test_loss, test_accuracy = model.evaluate(x_test, y_test)
print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.2%}")
val_accuracy = history.history["val_accuracy"][-1]
print(f"last validation accuracy {val_accuracy:.2%} (your guess: {my_guess})")

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
# 3 and 5). Keras, with the same architecture under the same protocol, reaches a median of
# 99.18% over five seeds (docs/benchmarks.md). Tutorial 7 looks at the mistakes.
#
# ## Saving and loading
#
# `model.save` writes the architecture, the weights and the optimizer's *settings* (Adam and
# its learning rate) into one `.npz` file, but not the optimizer's state: Adam's step count and
# moment estimates stay behind. `load_model` rebuilds the model, which then predicts exactly the
# same; training it further would restart Adam from zero. To resume training where it
# stopped, pass `checkpoint=path` to `fit` and later `resume=path`: a checkpoint keeps the
# optimizer state, the random generators and the position in the epoch.

# %%
path = Path(tempfile.mkdtemp()) / "seed_cnn.npz"
model.save(path)
print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")
restored = load_model(path)
same = np.array_equal(restored.predict(x_test[:500]), model.predict(x_test[:500]))
print("identical predictions after loading:", same)
print(
    f"Adam steps taken: {model.optimizer.iterations} before saving, "
    f"{restored.optimizer.iterations} after loading"
)
assert same and model.optimizer.iterations > 0 and restored.optimizer.iterations == 0

# %% [markdown]
# The command line works with the same files, e.g. `tinycnn evaluate seed_cnn.npz` for the
# report and confusion matrix above, and
# `tinycnn plot confusion seed_cnn.npz --out confusion.png` for the picture.
# [Tutorial 6](06_dense_vs_cnn.py) asks whether the convolutions were worth it.

# %% [markdown]
# ## Your turn
#
# Write one Adam step in Keras's form, then the capstone: the seed CNN built from your own layers
# must train to 85% on the embedded subset. Exercises: `adam`, `capstone`. Start each one in a
# folder of your own (it writes `my_exercises/<name>.py`, with the math, every shape and a `raise
# NotImplementedError` where your answer goes), fill it in, and run the cell below (or `tinycnn
# exercises check <name> my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start adam my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["adam", "capstone"]:
    print(check(name, "my_exercises"), end="\n\n")
