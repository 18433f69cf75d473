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
# # 3. Layers forward and backward: equations, code, numbers
#
# Every tinycnn layer is a function `out = forward(x)` plus its *backward* pass: given
# `dout` $= \partial L / \partial\,\mathrm{out}$, the gradient of some scalar loss $L$ with
# respect to the layer's output, it returns `dx` $= \partial L / \partial x$ and stores the
# gradients of its parameters in `layer.grads`. The rule to remember: **`dfoo` always has the
# shape of `foo`**.
#
# For each layer below we put the equation, a few lines of NumPy that compute it by hand, and
# the layer's own output side by side, on inputs small enough to read. We finish by chaining
# layers into a model and checking the chain rule. Everything runs in a second or two.

# %%
import numpy as np

from tinycnn.kernels import col2im, im2col
from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from tinycnn.losses import SoftmaxCrossEntropy, softmax
from tinycnn.model import Sequential
from tinycnn.plots import plot_backward_flow, plot_dropout, plot_maxpool

np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(0)


def numeric_derivative(f, a, index, h=1e-6):
    """(f(a + h e) - f(a - h e)) / 2h for the element a[index]: one entry of a gradient."""
    saved = a[index]
    a[index] = saved + h
    plus = f()
    a[index] = saved - h
    minus = f()
    a[index] = saved
    return (plus - minus) / (2 * h)


# %% [markdown]
# To check a backward pass we need a scalar. We use $L = \sum \mathrm{out} \odot \mathrm{dout}$
# for a fixed random `dout`: its gradient with respect to `out` is exactly `dout`, so the
# layer's `backward(dout)` must return $\partial L/\partial x$, and `numeric_derivative` can
# check any single entry of it from the forward pass alone. (Tutorial 4 does this for every
# entry, automatically.) We work in float64 so that the central difference is accurate to
# about $10^{-9}$.
#
# ## Dense
#
# $$
# \mathrm{out} = x\,w + b \qquad
# dw = x^\top dout, \quad db = \textstyle\sum_n dout[n,:], \quad dx = dout\; w^\top
# $$
#
# with `x` `(N, D)`, `w` `(D, U)`, `b` `(U,)`, `out` `(N, U)`. Each gradient has the shape of
# its array, which tells you where the transposes go.

# %%
x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])  # N=2, D=3
w = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])  # D=3, U=2
b = np.array([0.01, -0.02])

dense = Dense(2)
dense.build((3,))
dense.astype(np.float64)
dense.set_weights([w, b])
out = dense.forward(x)
print("out = x @ w + b\n", x @ w + b)
print("Dense.forward\n", out)

dout = np.array([[1.0, -1.0], [0.5, 2.0]])
dx = dense.backward(dout)
print("dx = dout @ w.T\n", dout @ w.T, "\nDense.backward\n", dx)
print("dw = x.T @ dout\n", x.T @ dout, "\nlayer.grads['w']\n", dense.grads["w"])
print("db = dout.sum(0):", dout.sum(axis=0), " layer.grads['b']:", dense.grads["b"])


# %%
def loss():
    return np.sum(dense.forward(x) * dout)


print("dL/dx[0, 2]  analytic", dx[0, 2], " numeric", numeric_derivative(loss, x, (0, 2)))
print("dL/dw[1, 0]  analytic", dense.grads["w"][1, 0], end="")
print("  numeric", numeric_derivative(loss, dense.params["w"], (1, 0)))

# %% [markdown]
# ## ReLU
#
# $$ \mathrm{out} = \max(x, 0), \qquad dx = dout \odot [x > 0] $$
#
# The gradient passes where the input was positive and is blocked elsewhere. At exactly 0 the
# function has a kink; tinycnn, like TensorFlow, uses slope 0 there.
#
# **Predict, then run.** For `x = [-2, -0.5, 0, 0.5, 2]` and `dout = [10, 20, 30, 40, 50]`, what
# does `ReLU.backward` return? Mind the 0. Write your guess in the first line of the next cell.

# %%
my_guess = None  # your guess, e.g. [0, 0, 0, 40, 50]
relu = ReLU()
x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
dout = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]])
print("x            ", x)
print("ReLU.forward ", relu.forward(x))
print("mask x > 0   ", (x > 0).astype(float))
print("ReLU.backward", relu.backward(dout))
print("your guess   ", my_guess)

# %% [markdown]
# ## Conv2D
#
# Tutorial 2 built the forward pass as `cols = im2col(x)`, `out2d = cols @ w2d + b`. It is a
# dense layer applied to every row of `cols`, so the Dense equations give the backward pass,
# with one extra step: `col2im` adds the gradient of every copy of a pixel back onto it.
#
# $$
# dw = \mathrm{cols}^\top dout_{2d}, \qquad
# db[f] = \sum_{n,i,j} dout[n,i,j,f], \qquad
# dx = \mathrm{col2im}(dout_{2d}\, w_{2d}^\top)
# $$
#
# with `dout2d = dout.reshape(N*OH*OW, F)` and `w2d = w.reshape(KH*KW*C, F)`. A 4 x 4 image, two
# channels, a 2 x 2 kernel with three filters:

# %%
x = rng.normal(size=(1, 4, 4, 2))  # N=1, H=W=4, C=2
conv = Conv2D(filters=3, kernel_size=2)
conv.build((4, 4, 2), rng=rng)
conv.astype(np.float64)
w, b = conv.params["w"], conv.params["b"]  # (2, 2, 2, 3), (3,)

out = conv.forward(x)  # (1, 3, 3, 3)
dout = rng.normal(size=out.shape)
dx = conv.backward(dout)

cols = im2col(x, 2, 2)  # (N*OH*OW, KH*KW*C) = (9, 8)
dout2d = dout.reshape(-1, 3)  # (9, 3)
w2d = w.reshape(-1, 3)  # (8, 3)
print("cols", cols.shape, " dout2d", dout2d.shape, " w2d", w2d.shape)
print("out  matches cols @ w2d + b:     ", np.allclose(out.reshape(-1, 3), cols @ w2d + b))
print(
    "dw   matches cols.T @ dout2d:    ",
    np.allclose(conv.grads["w"], (cols.T @ dout2d).reshape(w.shape)),
)
print("db   matches sum of dout:        ", np.allclose(conv.grads["b"], dout.sum(axis=(0, 1, 2))))
print(
    "dx   matches col2im(dout2d @ w2d.T):", np.allclose(dx, col2im(dout2d @ w2d.T, x.shape, 2, 2))
)


def loss():
    return np.sum(conv.forward(x) * dout)


print(
    "dL/dx[0, 1, 2, 1] analytic",
    dx[0, 1, 2, 1],
    " numeric",
    numeric_derivative(loss, x, (0, 1, 2, 1)),
)

# %% [markdown]
# ## MaxPool2D
#
# $$
# \mathrm{out}[n,i,j,c] = \max_{p,q}\, x[n,\, S i + p,\, S j + q,\, c]
# $$
#
# Within a window only the largest input affects the output, with slope 1. So the backward pass
# sends each `dout[n,i,j,c]` to the position of its window's maximum, and everything else gets
# 0. With the default stride (= pool size) the windows tile the image:

# %%
x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 6, 7], [9, 1, 3, 2]], dtype=np.float64)
x = x.reshape(1, 4, 4, 1)
pool = MaxPool2D(pool_size=2)
pool.build((4, 4, 1))
out = pool.forward(x)
print("x\n", x[0, :, :, 0], "\nout (the max of each 2 x 2 window)\n", out[0, :, :, 0])
dout = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 2, 2, 1)
print("dx: each dout lands on its window's winner\n", pool.backward(dout)[0, :, :, 0])

# %% [markdown]
# When a window holds several equal maxima (a tie), the FIRST in row-major window order takes
# the whole gradient and the other tied cells get 0, as in TensorFlow:

# %%
plot_maxpool()

# %% [markdown]
# With a stride smaller than the window the windows overlap: an input that wins several
# windows collects the sum of their gradients. Pooling 2 x 2 with stride 1, the 8 wins four
# of the nine windows:

# %%
overlapping = MaxPool2D(pool_size=2, strides=1)
overlapping.build((4, 4, 1))
out = overlapping.forward(x)
print("out\n", out[0, :, :, 0])
print("dx for dout = 1 everywhere: how many windows each input won")
print(overlapping.backward(np.ones_like(out))[0, :, :, 0])

# %% [markdown]
# When a window holds two equal maxima, the first in row-major order takes the gradient (as in
# TensorFlow). A tie is a kink, where the derivative does not exist; tutorial 4 shows how the
# gradient check recognises one.
#
# ## Flatten
#
# `(N, H, W, C)` becomes `(N, H*W*C)` in (row, column, channel) order, Keras's order, so a
# dense layer after it has the same weights as in Keras. The backward pass reshapes back; no
# number changes.

# %%
x = np.arange(8.0).reshape(1, 2, 2, 2)  # N=1, H=2, W=2, C=2
flatten = Flatten()
flatten.build((2, 2, 2))
for row in range(2):
    for col in range(2):
        print(f"pixel (row {row}, column {col}) holds channels {x[0, row, col].tolist()}")
print("Flatten.forward:", flatten.forward(x))
print("backward shape:", flatten.backward(np.ones((1, 8))).shape)

# %% [markdown]
# ## Dropout
#
# In training, each element is kept with probability $1 - r$ and scaled by $1/(1-r)$, so the
# expected output equals the input; at inference the layer is the identity:
#
# $$ \mathrm{out} = \frac{x \odot m}{1 - r}, \qquad dx = \frac{dout \odot m}{1 - r},
# \qquad m_k \sim \mathrm{Bernoulli}(1 - r) $$

# %%
dropout = Dropout(rate=0.5, seed=0)
dropout.build((8,))
x = np.ones((1, 8))
print("training: ", dropout.forward(x, training=True))
print("backward: ", dropout.backward(np.full((1, 8), 3.0)))
print("inference:", dropout.forward(x, training=False))
many = dropout.forward(np.ones((1000, 100)), training=True)
print(f"mean output over 100,000 elements in training: {many.mean():.3f} (expected 1)")

# %% [markdown]
# The same on a grid: the dropped cells become 0, the survivors are doubled, inference passes
# everything through.

# %%
plot_dropout(rate=0.5)

# %% [markdown]
# ## Softmax and cross-entropy, fused
#
# The last layer turns logits $z$ into probabilities $p = \mathrm{softmax}(z)$, and the loss is
# the mean negative log-probability of the true class:
#
# $$
# L = -\frac1N \sum_n \log p_{n, y_n}, \qquad
# \log p_{nk} = z_{nk} - m_n - \log \sum_j e^{z_{nj} - m_n}, \qquad
# \frac{\partial L}{\partial z} = \frac{p - Y}{N}
# $$
#
# with $m_n = \max_j z_{nj}$ (so no exponential overflows) and $Y$ the one-hot labels.

# %%
z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])  # N=2 examples, K=3 classes
y = np.array([0, 2])
p = softmax(z)
print("p = softmax(z)\n", p)
print("loss by hand:", -np.mean(np.log(p[np.arange(2), y])))

ce = SoftmaxCrossEntropy()
print("SoftmaxCrossEntropy.forward:", ce.forward(z, y))
dz = ce.backward()
Y = np.eye(3)[y]
print("(p - Y) / N\n", (p - Y) / 2, "\nbackward\n", dz)
print("each row of dz sums to 0:", dz.sum(axis=1))

# %% [markdown]
# Why fuse the two? Because computing $p$ first and then $\log p$ breaks down for confident
# predictions: with logits in the hundreds `exp` overflows, and a probability that rounds to 0
# has logarithm $-\infty$. The log-sum-exp form never exponentiates a positive number:

# %%
z_big = np.array([[1000.0, 0.0, -1000.0]])
with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
    naive = -np.log(np.exp(z_big) / np.exp(z_big).sum())
print("naive -log softmax:", naive)
print(
    "fused loss for class 0:",
    ce.forward(z_big, np.array([0])),
    " for class 2:",
    ce.forward(z_big, np.array([2])),
)

# %% [markdown]
# ## The chain rule: a model is its layers in reverse
#
# A `Sequential` model runs `forward` through its layers in order and `backward` in reverse,
# each layer turning $\partial L/\partial\,\mathrm{out}$ into $\partial L/\partial x$ for the
# layer before it. A classifier normally ends in a softmax, which the model skips while
# training (`forward(x, logits=True)`) to hand the logits to the fused loss; here we simply end
# with a Dense layer that outputs logits. A small CNN on random 6 x 6 images:

# %%
model = Sequential(
    [Conv2D(4, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(3)],
    input_shape=(6, 6, 1),
    seed=0,
)
model.astype(np.float64)
model.summary()

x = rng.normal(size=(5, 6, 6, 1))
y = np.array([0, 1, 2, 1, 0])
logits = model.forward(x)  # (5, 3)
loss_value = ce.forward(logits, y)
dx = model.backward(ce.backward())
print("loss", loss_value, " dx", dx.shape)

# %% [markdown]
# The same gradient by hand, calling each layer's `backward` in reverse order:

# %%
dout = ce.backward()
for layer in reversed(model.layers):
    dout = layer.backward(dout)
    print(f"{layer.name:>15} backward -> {dout.shape}")
print("layer by layer equals model.backward:", np.allclose(dout, dx))


def model_loss():
    return ce.forward(model.forward(x), y)


print(
    "dL/dx[2, 3, 3, 0] analytic",
    dx[2, 3, 3, 0],
    " numeric",
    numeric_derivative(model_loss, x, (2, 3, 3, 0)),
)
conv_w = model.layers[0].params["w"]
dw_analytic = model.layers[0].grads["w"][1, 1, 0, 2]
print(
    "dL/dw_conv[1, 1, 0, 2] analytic",
    dw_analytic,
    " numeric",
    numeric_derivative(model_loss, conv_w, (1, 1, 0, 2)),
)

# %% [markdown]
# The whole backward pass of this model at a glance: values going down, gradients coming back
# up, each gradient shaped like the array it belongs to (the picture runs its own forward and
# backward pass on two random images):

# %%
plot_backward_flow(model)

# %% [markdown]
# Checking one entry at a time by hand is tedious and easy to fool (an entry can match by
# luck). [Tutorial 4](04_gradient_checking.py) checks every entry of every gradient
# automatically, finds kinks, and catches a layer we break on purpose.

# %% [markdown]
# ## Your turn
#
# Write the forward and backward passes derived above, one layer at a time. Exercises:
# `conv2d_backward`, `maxpool_forward`, `maxpool_backward`, `relu`, `dropout`,
# `softmax_cross_entropy`, `dense_backward`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start conv2d_backward my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in [
    "conv2d_backward",
    "maxpool_forward",
    "maxpool_backward",
    "relu",
    "dropout",
    "softmax_cross_entropy",
    "dense_backward",
]:
    print(check(name, "my_exercises"), end="\n\n")
