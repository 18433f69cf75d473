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
# # 2. Convolution by hand: loops, im2col, and col2im
#
# A convolution layer slides a small kernel over an image and, at every position, takes the
# dot product of the kernel with the patch under it. In this tutorial we
#
# 1. write that definition as plain loops and run it on a digit,
# 2. rewrite it as **im2col** (every patch copied into a row of a matrix) plus **one matrix
#    multiply**, and see that it gives the same numbers, much faster,
# 3. check that tinycnn's `Conv2D` layer computes exactly this,
# 4. meet **col2im**, the operation the backward pass needs, and see why it is the *adjoint*
#    of im2col and not its inverse.
#
# Shapes follow the library: images `x` are `(N, H, W, C)`, kernels `w` are `(KH, KW, C, F)`.
# The tutorial runs in seconds.

# %%
# %matplotlib inline
import os
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tinycnn.data import load_mnist, scale_images
from tinycnn.kernels import col2im, conv_output_size, im2col, same_padding
from tinycnn.layers import Conv2D
from tinycnn.plots import plot_im2col, plot_multichannel, plot_sliding_kernel, save_png

FAST = os.environ.get("TINYCNN_TUTORIAL_FAST") == "1"  # the test suite's quick settings
FIGURES = os.environ.get("TINYCNN_TUTORIAL_FIGURES")  # folder to save figures in, if set


def out(name):
    """Where to save a figure as a PNG, or None to only show it."""
    return Path(FIGURES) / name if FIGURES else None


# %% [markdown]
# ## The definition, as loops
#
# For an input `x` of shape `(N, H, W, C)` and a kernel `w` of shape `(KH, KW, C, F)` with
# stride `S` and no padding ("valid"), output pixel `(i, j)` of filter `f` is
#
# $$
# \mathrm{out}[n,i,j,f] = b[f] + \sum_{p,q,c} x[n,\, S i + p,\, S j + q,\, c]\; w[p,q,c,f],
# \qquad OH = \left\lfloor \frac{H - KH}{S} \right\rfloor + 1 .
# $$
#
# (Deep learning libraries do not flip the kernel, so strictly this is a cross-correlation.)
# Written as loops, one per index:


# %%
def conv2d_loops(x, w, b, S=1):
    """out[n,i,j,f] = b[f] + sum_pqc x[n, S*i+p, S*j+q, c] * w[p,q,c,f]; 'valid' padding."""
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    OH, OW = (H - KH) // S + 1, (W - KW) // S + 1
    out = np.zeros((N, OH, OW, F), dtype=x.dtype)
    for n in range(N):
        for i in range(OH):
            for j in range(OW):
                for f in range(F):
                    total = b[f]
                    for p in range(KH):
                        for q in range(KW):
                            for c in range(C):
                                total += x[n, S * i + p, S * j + q, c] * w[p, q, c, f]
                    out[n, i, j, f] = total
    return out


# %% [markdown]
# The loops slide a window over the input. With a stride `S` the window jumps `S` cells, and
# zero padding around the input lets it visit the border. The picture shows a 3 x 3 kernel on a
# small padded input, its weights printed in the cells it covers, the outputs computed so far,
# and the output size formula with the numbers put in (`tinycnn plot sliding-gif` animates it):

# %%
plot_sliding_kernel(strides=2, padding=1, frame=4, out=out("02_sliding.png"))

# %% [markdown]
# With several input channels the sum runs over `c` as well: each channel meets its own slice
# `w[:, :, c, f]` of the kernel, and the partial sums plus the bias give ONE output value. One
# filter, three channels:

# %%
plot_multichannel(out=out("02_multichannel.png"))

# %% [markdown]
# Let us try it on real digits with two hand-made 3 x 3 filters: one that responds to
# vertical edges (dark on the left, ink on the right) and one to horizontal edges.

# %%
(x_train, y_train), _ = load_mnist(subset=True)
x = scale_images(x_train[:4])  # (4, 28, 28, 1) float32 in [0, 1]

vertical = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)  # Sobel
w = np.stack([vertical, vertical.T], axis=-1)[:, :, np.newaxis, :]  # (3, 3, 1, 2) = KH KW C F
b = np.zeros(2, dtype=np.float32)

out_loops = conv2d_loops(x, w, b)
print("x", x.shape, "w", w.shape, "->", out_loops.shape)


# %%
def show_maps(image, maps, titles):
    """The input digit and the output maps of the filters, side by side."""
    figure = Figure(figsize=(3 * (1 + len(titles)), 3), layout="constrained")
    axes = figure.subplots(1, 1 + len(titles))
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title("input")
    for k, (ax, title) in enumerate(zip(axes[1:], titles, strict=True)):
        limit = np.abs(maps[:, :, k]).max()
        ax.imshow(maps[:, :, k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
    for ax in axes:
        ax.set_axis_off()
    return figure


figure = show_maps(x[0, :, :, 0], out_loops[0], ["vertical edges", "horizontal edges"])
if out("02_edges.png"):
    save_png(figure, out("02_edges.png"))
figure

# %% [markdown]
# Red where the ink starts as we move right (or down), blue where it ends. The output is 26 x 26:
# a 3 x 3 window fits in 28 - 3 + 1 = 26 positions along each axis.
#
# Seven nested Python loops are clear but slow, and the seed CNN's second layer alone does 2.2
# million multiply-adds per image.
#
# ## im2col: every patch becomes a row
#
# The inner three loops (over `p, q, c`) are a dot product between a patch of the input and one
# column of the kernel. If we copy every patch into a row of a matrix `cols`, all those dot
# products become **one matrix multiply** with the kernel reshaped to `(KH*KW*C, F)`. That
# copying is *im2col* ("image to columns"). A tiny example makes the layout visible: a 3 x 4
# image holding the numbers 0 to 11 and a 2 x 2 window.

# %%
tiny = np.arange(12, dtype=np.float64).reshape(1, 3, 4, 1)  # N=1, H=3, W=4, C=1
print(tiny[0, :, :, 0])
print("im2col with a 2 x 2 window, stride 1: one row per output pixel (i, j)")
print(im2col(tiny, 2, 2))

# %% [markdown]
# Two output rows times three output columns give six windows, so six rows; each row holds a
# window read top to bottom, left to right (and channels innermost when C > 1): column
# `(p*KW + q)*C + c` holds `x[n, S*i + p, S*j + q, c]`. That is exactly the order in which
# `w.reshape(KH*KW*C, F)` flattens the kernel, so
#
# ```python
# cols = im2col(x, KH, KW, S)             # (N*OH*OW, KH*KW*C)
# out = cols @ w.reshape(-1, F) + b       # (N*OH*OW, F)
# out = out.reshape(N, OH, OW, F)         # rows run over (n, i, j): no transpose needed
# ```
#
# Here is one receptive field of a real digit and the row it becomes. The window is the one
# with the most contrast, part stroke and part background, and its cells are numbered with the
# column they go to, so the row order can be followed cell by cell:

# %%
plot_im2col(x[0], kernel_size=3, out=out("02_im2col.png"))


# %%
def conv2d_im2col(x, w, b, S=1, padding="valid"):
    """The same convolution as one matrix multiply."""
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    OH, OW = conv_output_size(H, KH, S, padding), conv_output_size(W, KW, S, padding)
    cols = im2col(x, KH, KW, S, padding)  # (N*OH*OW, KH*KW*C)
    return (cols @ w.reshape(-1, F) + b).reshape(N, OH, OW, F)


out_im2col = conv2d_im2col(x, w, b)
print("largest difference from the loops:", np.abs(out_im2col - out_loops).max())

# %% [markdown]
# The same numbers: here even bit for bit, though in general the two versions agree only to
# float32 rounding, because a matrix multiply may add the nine products in another order.
#
# Now the speed, on a layer the size of the seed CNN's first one: 32 random 3 x 3 filters.

# %%
rng = np.random.default_rng(0)
w32 = (0.3 * rng.normal(size=(3, 3, 1, 32))).astype(np.float32)  # (KH, KW, C, F)
b32 = np.zeros(32, dtype=np.float32)
batch = x[:2] if FAST else scale_images(x_train[:8])


def best_time(function, repeats):
    """The fastest of a few runs, in seconds (the first run may pay one-off costs)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


seconds_loops = best_time(lambda: conv2d_loops(batch, w32, b32), repeats=1)
seconds_im2col = best_time(lambda: conv2d_im2col(batch, w32, b32), repeats=20)
macs = batch.shape[0] * 26 * 26 * 32 * 9
print(f"{batch.shape[0]} images, {macs:,} multiply-adds")
print(f"loops:           {seconds_loops * 1e3:8.2f} ms")
print(f"im2col + matmul: {seconds_im2col * 1e3:8.2f} ms")
speedup = seconds_loops / seconds_im2col
orders = int(np.floor(np.log10(speedup)))  # whole powers of ten in the factor
print(f"speedup:         {speedup:8.0f}x, more than {orders} order{'s' * (orders != 1)} of "
      f"magnitude (10^{orders} = {10**orders:,}) and less than {orders + 1}")  # fmt: skip

# %% [markdown]
# The factor printed above depends on the machine and on how busy it is. It is large because
# the copying is done by nine large NumPy slices (one per kernel offset `(p, q)`, each covering
# every window at once) and the arithmetic by an optimised matrix multiply (BLAS), while the
# loops pay an interpreter round trip for every single multiply-add. The price is
# memory: every pixel is copied into up to `KH*KW` = 9 rows.
#
# ## The Conv2D layer does exactly this
#
# `tinycnn.layers.Conv2D` is the same computation with learned weights. We can load our two
# Sobel filters into it (weights in Keras's order: kernel, then bias) and compare:

# %%
layer = Conv2D(filters=2, kernel_size=3)
layer.build(x.shape[1:], rng=np.random.default_rng(0))
print("kernel", layer.params["w"].shape, " bias", layer.params["b"].shape)
layer.set_weights([w, b])
out_layer = layer.forward(x)
print("Conv2D vs loops, largest difference:", np.abs(out_layer - out_loops).max())

# %% [markdown]
# ## Strides and padding
#
# A stride `S` moves the window `S` pixels at a time. Padding `"same"` adds zeros around the
# image so that `OH = ceil(H / S)`; when the padding needed is odd the extra row or column goes
# at the bottom or right, as in Keras. For a 28 x 28 digit and a 3 x 3 kernel:

# %%
print("stride  padding  OH  (pad before, after)")
for S in (1, 2, 3):
    for padding in ("valid", "same"):
        pads = same_padding(28, 3, S) if padding == "same" else (0, 0)
        print(f"{S:>6}  {padding:>7}  {conv_output_size(28, 3, S, padding):>2}  {pads}")

# %% [markdown]
# ## col2im, the adjoint of im2col
#
# Training needs the gradient with respect to the input. The forward pass is
# `out2d = cols @ w2d + b`, so the gradient with respect to `cols` is `dcols = dout2d @ w2d.T`,
# one row per window. Each entry of `cols` is a *copy* of one input pixel, and the gradient of a
# pixel is the sum of the gradients of all its copies. Adding every row of `dcols` back onto the
# pixels its window came from is **col2im**.
#
# im2col is a linear map $A$ from images to matrices; col2im is its transpose (adjoint)
# $A^\top$. The defining property: for every image `x` and every matrix `y` of the shape of
# `cols`,
#
# $$\langle \mathrm{im2col}(x),\, y\rangle = \langle x,\, \mathrm{col2im}(y)\rangle .$$

# %%
x_rand = rng.normal(size=(2, 7, 6, 3))
for S, padding in [(1, "valid"), (2, "same"), (3, "valid")]:
    cols = im2col(x_rand, 3, 2, S, padding)
    y = rng.normal(size=cols.shape)
    left = np.sum(cols * y)
    right = np.sum(x_rand * col2im(y, x_rand.shape, 3, 2, S, padding))
    print(f"S={S} {padding:>5}: <im2col(x), y> = {left:+.10f}   <x, col2im(y)> = {right:+.10f}")

# %% [markdown]
# The test suite checks this identity as a hypothesis property over hundreds of random shapes,
# strides and paddings.
#
# ### Not the inverse
#
# Does col2im undo im2col? No. Going there and back *adds* the copies: every pixel comes back
# multiplied by the number of windows that cover it.
#
# **Predict, then run.** On a 6 x 6 image of ones, with a 3 x 3 kernel and stride 1, how many
# windows cover pixel (1, 1), one step in from the top-left corner? And the corner (0, 0)? Write
# your guesses in the first line of the next cell.

# %%
my_guess_11, my_guess_00 = None, None  # your guesses: windows covering (1, 1) and (0, 0)
ones = np.ones((1, 6, 6, 1))
counts = col2im(im2col(ones, 3, 3, 1), ones.shape, 3, 3, 1)
print("col2im(im2col(ones)), 3 x 3 kernel, stride 1:")
print(counts[0, :, :, 0].astype(int))
print(f"pixel (1, 1): {counts[0, 1, 1, 0]:.0f} windows, pixel (0, 0): {counts[0, 0, 0, 0]:.0f} "
      f"(your guesses: {my_guess_11}, {my_guess_00})")  # fmt: skip

x6 = rng.normal(size=(1, 6, 6, 1))
back = col2im(im2col(x6, 3, 3, 1), x6.shape, 3, 3, 1)
print("col2im(im2col(x)) == x * counts:", np.allclose(back, x6 * counts))

# %% [markdown]
# 9 in the middle, where nine windows overlap, 1 in the corners. With a stride larger than 1
# some pixels may be covered by no window at all: then they are **lost**, and no operation
# could invert im2col.

# %%
counts_s2 = col2im(im2col(ones, 3, 3, 2), ones.shape, 3, 3, 2)
print("stride 2, 'valid': windows start at rows/columns 0 and 2, so row and column 5 are unread")
print(counts_s2[0, :, :, 0].astype(int))

# %% [markdown]
# For the backward pass this is exactly right: a pixel that feeds several windows receives the
# sum of their gradients, and a pixel no window reads has gradient 0. The layer's backward pass
# is literally `dx = col2im(dout2d @ w2d.T, ...)`; let us check it against the layer:

# %%
dout = rng.normal(size=out_layer.shape).astype(np.float32)
dx_layer = layer.backward(dout)
dx_ours = col2im(dout.reshape(-1, 2) @ w.reshape(-1, 2).T, x.shape, 3, 3, 1, "valid")
print("dx from Conv2D.backward vs col2im by hand:", np.abs(dx_layer - dx_ours).max())

# %% [markdown]
# Next, [tutorial 3](03_layers_forward_backward.py) derives the backward pass of every layer
# and checks each equation against numbers.

# %% [markdown]
# ## Your turn
#
# Write im2col and col2im yourself, then a convolution as one matrix multiply. Exercises:
# `im2col`, `col2im`, `conv2d_forward`. Start each one in a folder of your own (it writes
# `my_exercises/<name>.py`, with the math, every shape and a `raise NotImplementedError` where
# your answer goes), fill it in, and run the cell below (or `tinycnn exercises check <name>
# my_exercises`) until it passes:
#
# ```console
# $ tinycnn exercises start im2col my_exercises
# ```
#
# Until you start, the check says "not started". `tinycnn exercises list my_exercises` shows
# them all.

# %%
from tinycnn.teach.exercises import check  # noqa: E402 (the exercises' own cell)

for name in ["im2col", "col2im", "conv2d_forward"]:
    print(check(name, "my_exercises"), end="\n\n")
