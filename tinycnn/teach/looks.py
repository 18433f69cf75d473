"""What a trained network looks at: saliency, occlusion, fooling images, class visualisation.

Four experiments on the *input*, each from the model's own ``forward`` and ``backward`` (CS231n
assignment 3, "Network Visualization"). Write ``z = model.forward(x, logits=True)`` for the
class scores (logits, before the softmax), shape (N, K), and ``p = softmax(z)``.

- :func:`saliency`: how much each pixel can move the score of class k,
  ``s[h, w] = max_c |∂z_k / ∂x[h, w, c]|`` (Simonyan et al. 2014). The gradient comes from one
  ``model.backward`` with ``dout`` one-hot at k, the same backward that training runs.
- :func:`occlusion`: cover a ``patch`` x ``patch`` square with ``fill`` and record how much
  ``p_k`` drops (Zeiler & Fergus 2014); every patch position is one image of one batch.
- :func:`fool`: the targeted fast gradient sign step (Goodfellow et al. 2015) toward class t,
  ``x1 = clip(x + eps * sign(∇x log p_t))``, then a few projected steps of size ``eps / 4``
  that stay within ``eps`` of the drawing in every pixel (the iterative method of Kurakin et
  al. 2017), stopping once t wins. ``log p_t = z_t - log Σ_k exp z_k`` rises when ``z_t`` rises
  *and* the other scores fall.
- :func:`class_visualisation`: gradient ascent on the *input* to raise ``z_k`` from a blank
  image, with an L2 penalty and a blur every few steps that keep the picture smooth.

Every function runs the model in inference mode (Dropout passes through) and overwrites the
layers' ``grads`` (as any ``backward`` does): do not call them in the middle of a training step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tinycnn.losses import softmax
from tinycnn.model import Sequential

__all__ = [
    "Attack",
    "ClassVisualisation",
    "Occlusion",
    "class_visualisation",
    "fool",
    "occlusion",
    "saliency",
    "scores_and_gradient",
]

Array = NDArray[np.floating]
MAX_ATTACK_STEPS = 100


def _check_image(model: Sequential, image: Array) -> NDArray[Any]:
    """``image`` as one batch (1, H, W, C) in the model's dtype, after checking its shape."""
    image = np.asarray(image)
    expected = tuple(model.built_input_shape())
    if image.shape != expected:
        raise ValueError(f"expected one image of shape {expected}, got shape {image.shape}")
    dtype = next((v.dtype for layer in model.layers for v in layer.params.values()), np.float32)
    return image.astype(dtype)[np.newaxis]


def _check_class(model: Sequential, k: int, name: str = "class") -> int:
    K = int(model.output_shapes[-1][-1])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < K:
        raise ValueError(f"{name} must be an integer in 0..{K - 1}, got {k!r}")
    return int(k)


def scores_and_gradient(model: Sequential, x: Array, dscores: Array) -> tuple[Array, Array]:
    """The class scores of a batch and the gradient of ``Σ dscores * z`` with respect to it.

    Parameters
    ----------
    model : Sequential
        Built, running eagerly (``jit_compile`` skips the input gradient).
    x : ndarray, shape (N, H, W, C)
    dscores : ndarray, shape (N, K) or a function of the scores returning one
        The upstream gradient ∂J/∂z; one-hot at k gives ∂z_k/∂x.

    Returns
    -------
    z : ndarray, shape (N, K)
        The scores (logits) before the gradient was taken.
    dx : ndarray, shape (N, H, W, C)
        ``Σ_k dscores[n, k] * ∂z[n, k] / ∂x[n]``.
    """
    z = np.asarray(model.forward(x, training=False, logits=True))  # (N, K)
    dout = dscores(z) if callable(dscores) else dscores
    dx = model.backward(np.asarray(dout, dtype=z.dtype))
    if dx is None:
        raise ValueError("the input gradient needs an eager model; compile without jit_compile")
    return z, dx


def saliency(model: Sequential, image: Array, k: int) -> Array:
    """The saliency map of class ``k`` for one image: ``max_c |∂z_k / ∂x[h, w, c]|``.

    Parameters
    ----------
    model : Sequential
        Built, eager.
    image : ndarray, shape (H, W, C)
        One image as the model takes it.
    k : int
        The class whose score ``z_k`` (logit, before the softmax) is differentiated.

    Returns
    -------
    s : ndarray, shape (H, W)
        Non-negative; large where a small change of the pixel changes the score most.
    """
    x = _check_image(model, image)
    k = _check_class(model, k)
    K = int(model.output_shapes[-1][-1])
    _, dx = scores_and_gradient(model, x, np.eye(K)[[k]])  # dx: (1, H, W, C)
    return np.abs(dx[0]).max(axis=-1)  # (H, W)


@dataclass
class Occlusion:
    """What covering each patch of an image does to the probability of one class.

    Attributes
    ----------
    probability : float
        ``p_k`` of the uncovered image.
    drops : ndarray, shape (OH, OW)
        ``p_k(image) - p_k(image with patch (i, j) covered)``; the patch covers rows
        ``S*i .. S*i + P - 1`` and columns ``S*j .. S*j + P - 1`` (P = patch, S = stride).
    heat : ndarray, shape (H, W)
        Each pixel's mean drop over the patches that cover it (0 where none does).
    patch, stride : int
    """

    probability: float
    drops: Array
    heat: Array
    patch: int
    stride: int


def occlusion(
    model: Sequential, image: Array, k: int, patch: int = 6, stride: int = 2, fill: float = 0.0
) -> Occlusion:
    """Cover the image with a ``patch`` x ``patch`` square of ``fill``, everywhere, and record
    how much the probability of class ``k`` drops (all positions in one batch).

    Parameters
    ----------
    model : Sequential
        Built.
    image : ndarray, shape (H, W, C)
    k : int
        The class to watch.
    patch, stride : int
        Side and step of the square, ``1 <= patch <= min(H, W)``, ``stride >= 1``.
    fill : float
        The covering value: 0, the background of MNIST digits, erases ink.
    """
    x = _check_image(model, image)
    k = _check_class(model, k)
    H, W = x.shape[1:3]
    if not 1 <= patch <= min(H, W) or stride < 1:
        raise ValueError(
            f"expected 1 <= patch <= {min(H, W)} and stride >= 1, got {patch}, {stride}"
        )
    OH, OW = (H - patch) // stride + 1, (W - patch) // stride + 1
    covered = np.repeat(x, OH * OW + 1, axis=0)  # (1 + OH*OW, H, W, C); row 0 uncovered
    for n, (i, j) in enumerate(np.ndindex(OH, OW), start=1):
        covered[n, stride * i : stride * i + patch, stride * j : stride * j + patch] = fill
    z = np.asarray(model.forward(covered, training=False, logits=True))
    p = softmax(z.astype(np.float64))[:, k]  # (1 + OH*OW,)
    drops = (p[0] - p[1:]).reshape(OH, OW)
    total, count = np.zeros((H, W)), np.zeros((H, W))
    for i, j in np.ndindex(OH, OW):
        total[stride * i : stride * i + patch, stride * j : stride * j + patch] += drops[i, j]
        count[stride * i : stride * i + patch, stride * j : stride * j + patch] += 1
    heat = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return Occlusion(float(p[0]), drops, heat, patch, stride)


@dataclass
class Attack:
    """A fooling image and how it got there.

    Attributes
    ----------
    target : int
        The class the attack pushes toward.
    epsilon : float
        No pixel moves by more than this from the original.
    images : ndarray, shape (T + 1, H, W, C)
        The original, then the image after each of the T steps taken.
    probabilities : ndarray, shape (T + 1, K)
        The softmax output for each of ``images``.
    """

    target: int
    epsilon: float
    images: Array
    probabilities: Array
    steps: list[float] = field(default_factory=list)

    @property
    def image(self) -> Array:
        """The final image, shape (H, W, C)."""
        return self.images[-1]

    @property
    def change(self) -> Array:
        """The final image minus the original, shape (H, W, C), each value in [-eps, eps]."""
        return self.images[-1] - self.images[0]

    @property
    def prediction(self) -> int:
        """The class the model gives the final image."""
        return int(np.argmax(self.probabilities[-1]))


def _log_probability_gradient(target: int) -> Any:
    """``dscores`` for ``J = log p_target``: ``∂J/∂z = onehot(target) - softmax(z)``."""

    def dscores(z: Array) -> Array:
        dz = -softmax(z.astype(np.float64))
        dz[:, target] += 1.0
        return dz

    return dscores


def fool(
    model: Sequential,
    image: Array,
    target: int,
    epsilon: float = 0.25,
    steps: int = 10,
) -> Attack:
    """Push an image toward class ``target``: a fast gradient sign step, then smaller ones.

    Step 1 is ``x1 = clip(x + eps * sign(∇x log p_t), 0, 1)``; each later step adds
    ``eps/4 * sign(∇ log p_t)`` and clips back into ``[x - eps, x + eps] ∩ [0, 1]``. The attack
    stops as soon as the model's top class is ``target`` (at once if it already is).

    Parameters
    ----------
    model : Sequential
        Built, eager.
    image : ndarray, shape (H, W, C)
        Pixels in [0, 1].
    target : int
        The class to make the model say.
    epsilon : float
        The largest change of any pixel, ``0 < epsilon <= 1``.
    steps : int
        At most this many steps, ``1 <= steps <= MAX_ATTACK_STEPS``.
    """
    x0 = _check_image(model, image)
    target = _check_class(model, target, "target")
    if not 0 < epsilon <= 1:
        raise ValueError(f"epsilon must be in (0, 1], got {epsilon}")
    if isinstance(steps, bool) or not 1 <= steps <= MAX_ATTACK_STEPS:
        raise ValueError(f"steps must be in 1..{MAX_ATTACK_STEPS}, got {steps}")
    low, high = np.clip(x0 - epsilon, 0, 1), np.clip(x0 + epsilon, 0, 1)  # (1, H, W, C)
    dscores = _log_probability_gradient(target)
    images, probabilities, sizes = [x0[0]], [], []
    x = x0
    for s in range(steps):
        z, dx = scores_and_gradient(model, x, dscores)
        probabilities.append(softmax(z.astype(np.float64))[0])
        if np.argmax(z[0]) == target:
            break
        size = epsilon if s == 0 else epsilon / 4
        x = np.clip(x + size * np.sign(dx), low, high).astype(x0.dtype)
        images.append(x[0])
        sizes.append(size)
    else:
        z = np.asarray(model.forward(x, training=False, logits=True))
        probabilities.append(softmax(z.astype(np.float64))[0])
    return Attack(target, float(epsilon), np.stack(images), np.stack(probabilities), sizes)


def blur(x: Array) -> Array:
    """Each channel of a batch smoothed by the 3x3 kernel [1, 2, 1]ᵀ[1, 2, 1] / 16 (edges
    repeated), shape kept (N, H, W, C)."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4  # (N, H, W + 2, C)
    return (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) / 4


@dataclass
class ClassVisualisation:
    """An input made to raise one class's score.

    Attributes
    ----------
    image : ndarray, shape (H, W, C)
        In [0, 1].
    scores : ndarray, shape (steps + 1,)
        ``z_k`` of the start and after every step.
    probability : float
        ``p_k`` of the final image.
    """

    image: Array
    scores: Array
    probability: float


def class_visualisation(
    model: Sequential,
    k: int,
    rng: np.random.Generator,
    steps: int = 100,
    step_size: float = 0.1,
    l2: float = 0.01,
    blur_every: int = 10,
) -> ClassVisualisation:
    """Gradient ascent on the input: the picture the model finds most like class ``k``.

    From a faint random start, each step moves every pixel along
    ``g = ∂z_k/∂x - 2 * l2 * x`` (the score minus an L2 penalty that keeps the picture from
    growing without bound), scaled so that the largest move is ``step_size``, then clips to
    [0, 1]; every ``blur_every`` steps the image is blurred (:func:`blur`), which keeps
    high-frequency noise out (CS231n assignment 3).

    Parameters
    ----------
    model : Sequential
        Built, eager.
    k : int
        The class.
    rng : numpy.random.Generator
        Draws the start, uniform in [0, 0.1).
    steps : int
        Ascent steps, >= 1.
    step_size : float
        The largest change of any pixel per step, > 0.
    l2 : float
        Weight of the penalty ``l2 * ||x||²``, >= 0.
    blur_every : int
        Blur after every this many steps; 0 never blurs.
    """
    k = _check_class(model, k)
    if steps < 1 or step_size <= 0 or l2 < 0 or blur_every < 0:
        raise ValueError(
            "expected steps >= 1, step_size > 0, l2 >= 0 and blur_every >= 0, got "
            f"{steps}, {step_size}, {l2}, {blur_every}"
        )
    shape = tuple(model.built_input_shape())
    x = _check_image(model, rng.uniform(0.0, 0.1, shape))  # (1, H, W, C)
    K = int(model.output_shapes[-1][-1])
    onehot = np.eye(K)[[k]]
    scores = []
    for s in range(1, steps + 1):
        z, dx = scores_and_gradient(model, x, onehot)
        scores.append(float(z[0, k]))
        g = dx - 2 * l2 * x
        x = np.clip(x + step_size * g / max(float(np.abs(g).max()), 1e-12), 0, 1)
        if blur_every and s % blur_every == 0:
            x = blur(x)
        x = x.astype(dx.dtype)
    z = np.asarray(model.forward(x, training=False, logits=True))
    scores.append(float(z[0, k]))
    probability = float(softmax(z.astype(np.float64))[0, k])
    return ClassVisualisation(x[0], np.array(scores), probability)
