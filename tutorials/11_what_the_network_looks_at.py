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
# # 11. What the network looks at: saliency, occlusion, fooling images, class pictures
#
# Training computes `dx`, the gradient of the loss with respect to each layer's input, and
# throws the first layer's away: nothing updates the image. Keep it instead, and it answers a
# new question: *how would the network's answer change if this pixel changed?* Four
# experiments follow from it (CS231n's "Network Visualization" assignment), all in
# `tinycnn.teach.looks`:
#
# 1. **saliency**: the size of the gradient of one class's score at every pixel;
# 2. **occlusion**: cover a patch, watch the probability fall (no gradient at all);
# 3. **fooling images**: follow the gradient's sign until the network says another digit;
# 4. **class pictures**: start from a blank image and climb one class's score.
#
# Each section asks you to **predict, then run**: write your guess in the cell before the
# answer, then run the answer. We use the small model shipped with tinycnn (the one
# `tinycnn serve` uses), so nothing is trained here and the fast settings change nothing.

# %%
# %matplotlib inline
import os
from pathlib import Path

import numpy as np

from tinycnn import load_mnist, scale_images
from tinycnn.plots import plot_class_visualisation, plot_fooling, plot_occlusion, plot_saliency
from tinycnn.serve import load_default_model
from tinycnn.teach.looks import class_visualisation, fool, occlusion, saliency
from tinycnn.teach.probes import class_probabilities

FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


model = load_default_model()
(_, _), (x_test, y_test) = load_mnist(subset=True)  # the embedded subset: no download
x_test = scale_images(x_test)
n = int(np.flatnonzero(y_test == 7)[0])  # the first 7 of the test set
image, label = x_test[n], int(y_test[n])
p = class_probabilities(model, image[None])[0]
print(f"test image {n}: label {label}, predicted {p.argmax()} with probability {p.max():.4f}")

# %% [markdown]
# ## 1. Saliency: the gradient of a score with respect to the image
#
# Let $z = $ `model.forward(x, logits=True)` be the ten class scores before the softmax. The
# saliency map of class $k$ is
#
# $$ s[h, w] = \max_c \left| \frac{\partial z_k}{\partial x[h, w, c]} \right|, $$
#
# one number per pixel (an MNIST image has one channel, so the max does nothing here; a
# colour image would take the largest of its three). The gradient is one backward pass with
# an upstream gradient that is 1 at class $k$ and 0 elsewhere: exactly the pass training
# runs, only we keep what comes out at the bottom. By hand:

# %%
z = model.forward(image[None], logits=True)  # (1, 10)
dout = np.zeros_like(z)
dout[0, label] = 1.0  # ∂z_label/∂z: one-hot
dx = model.backward(dout)  # (1, 28, 28, 1): ∂z_label/∂x
by_hand = np.abs(dx[0]).max(axis=-1)  # (28, 28)
s = saliency(model, image, label)
print(f"largest |dz/dx| = {s.max():.4f}")
print(f"by hand and by saliency() they differ by {np.abs(by_hand - s).max():.1e}")

# %% [markdown]
# **Predict, then run.** Split the pixels into three groups: the *ink* of the 7 (grey level
# above 0.5), the *rim* (background pixels within 2 pixels of the ink) and the *far*
# background. Which group holds the pixel with the largest saliency? Write `"ink"`, `"rim"` or
# `"far"`:

# %%
my_guess = None  # e.g. "ink"

# %%
ink = image[..., 0] > 0.5
near = np.zeros_like(ink)
for dy in range(-2, 3):
    for dxx in range(-2, 3):
        near |= np.roll(np.roll(ink, dy, axis=0), dxx, axis=1)
groups = {"ink": ink, "rim": near & ~ink, "far": ~near}
for name, mask in groups.items():
    mean, top = s[mask].mean(), s[mask].max()
    print(f"{name:>4}: {mask.sum():3d} pixels, mean saliency {mean:.4f}, max {top:.4f}")
answer = next(name for name, mask in groups.items() if mask.flat[np.argmax(s)])
print(f"the largest saliency is in the {answer!r} group; you guessed {my_guess!r}")
plot_saliency(model, image, label, out=out("11_saliency.png"))

# %% [markdown]
# The far background matters little: filters there see only zeros. Ink and rim both matter,
# because a 7 is told from a 1 or a 9 as much by where the ink is *not* (an empty space that
# would close a loop) as by where it is. Saliency is local, though: it says what a *tiny*
# change does, not what a large one would.
#
# ## 2. Occlusion: cover a patch and watch the probability
#
# Zeiler and Fergus (2014) asked the question without any gradient: paint a square black, run
# the network, and record how much the probability of the class drops. `occlusion` does it for
# a 6 x 6 patch at every second position, 144 covered copies of the image in one batch.
#
# **Predict, then run.** Covering which part of the 7 costs its probability most: the
# horizontal *bar* at the top or the slanted *stem*? Write `"bar"` or `"stem"`:

# %%
my_guess = None  # e.g. "stem"

# %%
covered = occlusion(model, image, label, patch=6, stride=2)
i, j = np.unravel_index(np.argmax(covered.drops), covered.drops.shape)
rows = np.flatnonzero(ink.any(axis=1))
top_third = rows[0] + (rows[-1] - rows[0]) // 3
where = "bar" if 2 * i + 3 <= top_third else "stem"
print(f"p({label}) uncovered: {covered.probability:.4f}")
print(f"largest drop {covered.drops[i, j]:.4f} with the patch at rows {2 * i}..{2 * i + 5},")
print(f"columns {2 * j}..{2 * j + 5}: the {where} (the bar ends at row {top_third})")
print(f"you guessed {my_guess!r}")
cheap = int((covered.drops < 0.01).sum())
print(f"{cheap} of {covered.drops.size} patch positions cost less than 0.01")
plot_occlusion(model, image, label, out=out("11_occlusion.png"))

# %% [markdown]
# Most patches cost almost nothing: the network's answer survives losing most parts of the
# picture one at a time, and rests on a few places. Saliency and occlusion need not agree: one
# is a slope at the image, the other a big step away from it.
#
# ## 3. Fooling images: the fast gradient sign step
#
# Now use the gradient to *change* the image. Goodfellow et al. (2015) moved every pixel by
# the same small amount $\varepsilon$ in the direction that raises the loss; to push toward a
# class $t$ we raise $\log p_t$ instead:
#
# $$ x_1 = \mathrm{clip}\big(x + \varepsilon\, \mathrm{sign}(\nabla_x \log p_t),\ 0, 1\big), $$
#
# then take smaller steps of $\varepsilon/4$, never letting a pixel move more than
# $\varepsilon$ from the original, until the network says $t$. To first order one sign step
# raises $\log p_t$ by $\varepsilon \lVert \nabla_x \log p_t \rVert_1$: the sum over all 784
# pixels, which is why such a small change per pixel can add up to a large effect.
#
# **Predict, then run.** With $\varepsilon = 0.25$ (a quarter of the grey scale), how many of
# the 784 pixels will the attack change to turn this 7 into a 3? Write a number:

# %%
my_guess = None  # e.g. 50

# %%
attack = fool(model, image, 3, epsilon=0.25, steps=10)
changed = int((attack.change != 0).sum())
print(
    f"{len(attack.images) - 1} step(s); it now says {attack.prediction} "
    f"with probability {attack.probabilities[-1][attack.prediction]:.3f}"
)
print(f"p(3): {attack.probabilities[0][3]:.6f} before, {attack.probabilities[-1][3]:.3f} after")
print(
    f"{changed} of 784 pixels changed (you guessed {my_guess}), none by more than "
    f"{np.abs(attack.change).max():.2f}"
)
background = int(((attack.change[..., 0] != 0) & ~ink).sum())
print(f"{background} of the {changed} changed pixels are background (grey level <= 0.5)")

# %% [markdown]
# Hundreds of pixels move, most of them in the background, where a person sees only a faint
# haze. (A pixel that the step would push below 0 or above 1 stays where it is.) How close
# is the first-order prediction for the first step? The gradient at the original image is one
# backward pass again:

# %%
first = fool(model, image, 3, epsilon=0.01, steps=1)
log_p = np.log(first.probabilities[:, 3])
z = model.forward(image[None], logits=True)
q = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
dout = -q
dout[0, 3] += 1.0  # ∂ log p_3 / ∂z = onehot(3) - p
g = model.backward(dout)
print(
    f"eps = 0.01: log p(3) rose by {log_p[1] - log_p[0]:.4f}; "
    f"first order predicts eps * |g|_1 = {0.01 * np.abs(g).sum():.4f}"
)
plot_fooling(model, image, 3, epsilon=0.25, steps=10, out=out("11_fooling.png"))

# %% [markdown]
# The two numbers are of the same size for a small step: the network is nearly linear over a
# distance like this (its ReLUs bend it a little), and a linear function with 784 inputs is
# easy to push far by many tiny moves in the right directions. That is Goodfellow et al.'s
# explanation of why fooling images exist.
#
# ## 4. Class pictures: gradient ascent on the input
#
# Last, start from a faint random image and climb one class's score $z_k$, with a penalty
# $\lambda \lVert x \rVert^2$ that keeps the picture from growing without bound and a blur
# every 10 steps that keeps out pixel noise (CS231n).
#
# **Predict, then run.** After 100 steps, will the picture that maximises the score of 3 be
# classified as a 3 with probability above 0.9? And will it look like a 3 to you? Write
# `True` or `False` for the first question:

# %%
my_guess = None  # e.g. True

# %%
three = class_visualisation(model, 3, np.random.default_rng(0), steps=100)
print(f"score of 3: {three.scores[0]:.2f} at the start, {three.scores[-1]:.2f} after 100 steps")
print(f"p(3) = {three.probability:.4f}: above 0.9 is {three.probability > 0.9}")
print(f"you guessed {my_guess!r}")
figure = plot_class_visualisation(model, np.random.default_rng(0), out=out("11_class_pictures.png"))
print(
    "p(k) of each class's picture:", " ".join(f"{pic.probability:.2f}" for pic in figure.pictures)
)
assert all(pic.probability > 0.5 for pic in figure.pictures)  # "each is classified as its class"
figure

# %% [markdown]
# Each picture is classified as its class, and many show strokes in the places where that
# digit has them, pieces of 3s rather than a 3. The network has learned *where strokes go*,
# not what a digit is: which is also why the fooling images of section 3 work.
#
# ## On the draw-a-digit page
#
# `tinycnn serve` shows all of this on your own drawing: every layer from the input to the
# ten probabilities (click a pooled value, a dense unit or a class to see how it is computed),
# the saliency and occlusion maps over your drawing, and a "Fool it" button that runs the
# attack above toward any class you choose. The same functions run behind it.

# %% [markdown]
# ## Your turn
#
# Write the two computations behind sections 1 and 3 yourself, from a network handed to you as
# its forward and backward: exercises `saliency` (which upstream gradient gives ∂z_k/∂x, and the
# maximum of its size over channels) and `fgsm` (∂ log p_t/∂z, a stable softmax, one sign step,
# the clip). Start each one in a folder of your own, fill it in, and run the cell below (or
# `tinycnn exercises check <name> my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start saliency my_exercises
# $ tinycnn exercises start fgsm my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["saliency", "fgsm"]:
    print(check(name, "my_exercises"), end="\n\n")
