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
# # 9. Checking against TensorFlow: same weights, same numbers, same training curve
#
# Gradient checks (tutorial 4) prove that each backward pass matches its own forward pass.
# They cannot prove that the forward pass computes what everybody else calls a convolution,
# that "same" padding puts the extra row where Keras puts it, or that Adam is Keras's Adam. For
# that we compare with TensorFlow/Keras, number by number:
#
# 1. the same model and the same weights in both libraries,
# 2. the same outputs, gradients and Adam step, in float32 and in float64,
# 3. the same training curve over many steps,
# 4. and a model moving from Keras to tinycnn and back.
#
# This tutorial needs TensorFlow (`pip install -e ".[reference]"`); without it, it says so and
# stops: a script exits with success, a notebook stops quietly at the first code cell. It takes
# about a minute, most of it importing TensorFlow and compiling its training step; with
# `TINYCNN_TUTORIAL_FAST=1` the training comparison is shorter (30 steps instead of 300).

# %%
# %matplotlib inline
import builtins
import os
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tinycnn import Adam, Sequential, SoftmaxCrossEntropy, load_mnist, scale_images, seed_cnn
from tinycnn.interop import from_keras, to_keras  # imports TensorFlow only when called
from tinycnn.plots import save_png

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set
STEPS = 30 if FAST else 300  # training steps compared


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


# TensorFlow's oneDNN float32 convolutions return wrong numbers for some shapes (tinycnn's parity
# tests found one); a reference must be right first, so use TensorFlow's own kernels.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter


class TensorFlowMissingError(Exception):
    """Stops a notebook's run here; IPython shows no traceback for it (empty render)."""

    def _render_traceback_(self):
        return []


try:
    import keras
    import tensorflow as tf
except ImportError:
    print('TUTORIAL SKIPPED: TensorFlow is not installed (pip install -e ".[reference]")')
    if hasattr(builtins, "__IPYTHON__"):  # in a notebook, SystemExit would show as an error
        raise TensorFlowMissingError("TensorFlow is not installed") from None
    sys.exit(0)

print("TensorFlow", tf.__version__, " Keras", keras.__version__)

# %% [markdown]
# ## The same model, the same weights
#
# `tinycnn.interop.to_keras` builds the Keras twin of a tinycnn model and copies the weights.
# Nothing needs converting: both libraries keep activations as NHWC, conv kernels as
# `(KH, KW, C, F)`, dense kernels as `(D, units)`, and flatten in (row, column, channel) order,
# so the copy is `keras_model.set_weights(model.get_weights())`. With `logits=True` the twin
# stops before the final softmax, like `model.forward(x, logits=True)`.

# %%
model = seed_cnn(seed=0)
keras_model = to_keras(model)
keras_logits = to_keras(model, logits=True)
keras_model.summary()
for ours, theirs in zip(model.get_weights(), keras_model.get_weights(), strict=True):
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)
print("every weight array has the same shape and the same values in both libraries")

# %% [markdown]
# ## The same numbers
#
# 256 real test digits through both networks, in float32:

# %%
(x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
x_train, x_test = scale_images(x_train), scale_images(x_test)
x, y = x_test[:256], y_test[:256].astype(np.int64)

probs_ours = model.forward(x)
probs_keras = keras_model(x, training=False).numpy()
print(f"probabilities: max abs difference {np.abs(probs_ours - probs_keras).max():.1e}")
print(
    "same predicted class for all 256:", np.array_equal(probs_ours.argmax(1), probs_keras.argmax(1))
)

# %% [markdown]
# Equal to about $10^{-7}$, float32 rounding: the two libraries add the products of a
# convolution in different orders. Now the gradients of the loss with respect to every
# parameter, from tinycnn's backward pass and from `tf.GradientTape`:


# %%
def tinycnn_gradients(model, x, y):
    """Loss and gradients (get_weights order) by tinycnn's backward pass."""
    loss = SoftmaxCrossEntropy()
    value = loss.forward(model.forward(x, logits=True), y)
    model.backward(loss.backward())
    return value, [grad.copy() for _, _, grad in model.params_and_grads()]


def keras_gradients(keras_logits, x, y):
    """Loss and gradients (trainable_variables order) by TensorFlow's automatic differentiation."""
    # Keras losses compute in float32 unless told otherwise
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=x.dtype.name)
    with tf.GradientTape() as tape:
        value = loss_fn(y, keras_logits(x, training=False))
    grads = tape.gradient(value, keras_logits.trainable_variables)
    return float(value), [grad.numpy() for grad in grads]


def compare_gradients(model, keras_logits, x, y):
    loss_ours, grads_ours = tinycnn_gradients(model, x, y)
    loss_keras, grads_keras = keras_gradients(keras_logits, x, y)
    print(f"loss: tinycnn {loss_ours:.10f}  Keras {loss_keras:.10f}")
    names = [name for name, _, _ in model.params_and_grads()]
    errors = []
    for name, a, b in zip(names, grads_ours, grads_keras, strict=True):
        errors.append(np.abs(a - b).max() / np.abs(b).max())
        print(f"  d{name:<12} {str(a.shape):<16} relative difference {errors[-1]:.1e}")
    return max(errors)


worst32 = compare_gradients(model, keras_logits, x, y)

# %% [markdown]
# Relative differences of $10^{-6}$ or so. Is that rounding or a small error in a formula?
# Run the same comparison in float64: rounding shrinks by nine orders of magnitude, a formula
# error would not.
#
# **Predict, then run.** In float64, what will the largest relative difference be: about the
# same as in float32, about $10^{-10}$, or near $10^{-15}$? Write your guess in the first line
# of the next cell.

# %%
my_guess = None  # your guess, e.g. 1e-10
model64 = seed_cnn(seed=0).astype(np.float64)
keras_logits64 = to_keras(model64, logits=True)
worst64 = compare_gradients(model64, keras_logits64, x.astype(np.float64), y)
print(f"largest: float32 {worst32:.1e}, float64 {worst64:.1e} (your guess: {my_guess})")
assert worst32 < 1e-4 and worst64 < 1e-10  # the gradient tolerances of tests/reference/

# %% [markdown]
# Around $10^{-15}$: the formulas are the same, and the float32 differences are rounding.
# The test suite (`tests/reference/`) makes these comparisons for every layer on hundreds of
# drawn shapes, strides and paddings, with tolerances listed in the FAQ.
#
# ## The same Adam step
#
# One update from the same gradients, tinycnn's `Adam` against `keras.optimizers.Adam`, both
# with their defaults (learning rate $10^{-3}$, $\hat\epsilon = 10^{-7}$):

# %%
grads = tinycnn_gradients(model, x, y)[1]
ours = [w.copy() for w in model.get_weights()]
Adam().update(ours, [g.copy() for g in grads])

variables = [tf.Variable(w) for w in model.get_weights()]
keras.optimizers.Adam().apply_gradients(
    zip([tf.constant(g) for g in grads], variables, strict=True)
)
theirs = [v.numpy() for v in variables]
step_difference = max(np.abs(a - b).max() for a, b in zip(ours, theirs, strict=True))
print(f"largest difference after one Adam step: {step_difference:.1e} (the step itself is 1e-3)")

# %% [markdown]
# ## The same training curve
#
# Now many steps in a row: both start from the same weights and see the same batches of 64
# training images in the same order. Dropout is switched off (rate 0) in both, since two
# libraries cannot draw the same random masks. tinycnn trains with a plain loop of its own
# pieces; Keras with `tf.GradientTape` inside a `tf.function`.

# %%
config = seed_cnn(seed=0).get_config()
for spec in config["layers"]:
    if spec["class_name"] == "Dropout":
        spec["config"]["rate"] = 0.0
model = Sequential.from_config(config)
model.set_weights(seed_cnn(seed=0).get_weights())
keras_logits = to_keras(model, logits=True)
n_batches = len(x_train) // 64  # the training images in file order, again after the last one
batches = [
    (x_train[64 * j : 64 * j + 64], y_train[64 * j : 64 * j + 64].astype(np.int64))
    for j in (k % n_batches for k in range(STEPS))
]

loss, optimizer, losses_ours = SoftmaxCrossEntropy(), Adam(), []
for xb, yb in batches:
    losses_ours.append(loss.forward(model.forward(xb, training=True, logits=True), yb))
    model.backward(loss.backward())
    _, params, grads = zip(*model.params_and_grads(), strict=True)
    optimizer.update(list(params), list(grads))

loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
keras_optimizer = keras.optimizers.Adam()
variables = keras_logits.trainable_variables


@tf.function
def keras_step(xb, yb):
    with tf.GradientTape() as tape:
        value = loss_fn(yb, keras_logits(xb, training=True))
    keras_optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
    return value


losses_keras = [float(keras_step(xb, yb)) for xb, yb in batches]
losses_ours, losses_keras = np.array(losses_ours), np.array(losses_keras)
gap = np.abs(losses_ours - losses_keras) / losses_keras
print(
    f"{STEPS} steps: loss {losses_ours[0]:.3f} -> {losses_ours[-1]:.3f} (tinycnn), "
    f"{losses_keras[0]:.3f} -> {losses_keras[-1]:.3f} (Keras)"
)
print(f"relative gap in the first 10 steps: at most {gap[:10].max():.1e}")
print(f"relative gap over all {STEPS} steps:  at most {gap.max():.1e}")

# %%
figure = Figure(figsize=(10, 3.6), layout="constrained")
left, right = figure.subplots(1, 2)
steps = np.arange(1, STEPS + 1)
left.plot(steps, losses_keras, color="tab:orange", linewidth=3, label="Keras")
left.plot(steps, losses_ours, color="tab:blue", linewidth=1, label="tinycnn")
left.set(xlabel="step", ylabel="training loss", title="The two training curves")
left.legend()
right.semilogy(steps, np.maximum(gap, 1e-9), color="tab:green")
right.set(xlabel="step", ylabel="relative difference", title="Their difference (log scale)")
if out("09_training_curves.png"):
    save_png(figure, out("09_training_curves.png"))
figure

# %% [markdown]
# The curves lie on top of each other. Their difference starts at float32 rounding and grows
# slowly: once rounding puts a ReLU input or a max-pooling tie on the other side of its kink,
# the two runs take slightly different steps, which training then carries along. (In float64
# the two agree to about $10^{-15}$ over the same steps; see
# `tests/reference/test_training_parity.py`.) A full epoch can be compared with
# `python tests/benchmarks/compare_keras_training.py`.
#
# ## From Keras to tinycnn and back
#
# `from_keras` goes the other way, so a model built or trained in Keras can be inspected with
# tinycnn's tools (its `summary`, `gradcheck`, the plots):

# %%
inputs = keras.Input((28, 28, 1))
keras_built = keras.Sequential(
    [
        inputs,
        keras.layers.Conv2D(8, 5, strides=2, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
converted = from_keras(keras_built)
converted.summary()
difference = np.abs(converted.forward(x) - keras_built(x, training=False).numpy()).max()
print(f"largest difference in the probabilities: {difference:.1e}")

# %% [markdown]
# That completes the tour: from the bytes of an IDX file (tutorial 1) to a network whose every
# number can be checked by hand, by finite differences, and against TensorFlow.

# %% [markdown]
# ## Your turn
#
# The two places where matching Keras needs care: the stable loss and Adam's epsilon-hat form.
# Exercises: `softmax_cross_entropy`, `adam`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start softmax_cross_entropy my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["softmax_cross_entropy", "adam"]:
    print(check(name, "my_exercises"), end="\n\n")
