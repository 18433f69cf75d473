"""Data augmentation for images: seeded random shifts, small rotations and optional zoom.

Augmentation is off by default. ``fit(..., augment=True)`` (or ``augment=Augmenter(...)``)
applies a fresh random transform to every image of every training batch; validation and test
images are never touched. Everything is plain NumPy and driven by an explicit
``np.random.Generator``, so a seeded run is reproducible.

To see what it does, tile a few examples::

    grid = example_grid(x_train[:6], Augmenter(), np.random.default_rng(0))
    plt.imshow(grid, cmap="gray")   # row r: original image r, then 7 augmented versions

Notes
-----
Each output pixel (i, j) is *pulled* from the source image (inverse mapping), so there are no
holes. With the image centre (cy, cx) = ((H-1)/2, (W-1)/2), rotation θ (counter-clockwise as
seen on screen), zoom z (> 1 enlarges) and shift (ty, tx) in pixels (positive moves the content
down/right)::

    dy = i - cy - ty                dx = j - cx - tx
    sy = cy + ( sin θ dx + cos θ dy) / z
    sx = cx + ( cos θ dx - sin θ dy) / z
    out[n,i,j,c] = bilinear(x[n], sy, sx)[c]

Bilinear interpolation mixes the four neighbours of (sy, sx) with weights (1-fy)(1-fx),
(1-fy)fx, fy(1-fx), fy fx, where fy, fx are the fractional parts; pixels outside the image count
as 0 (black background, right for MNIST). The identity transform returns the input exactly.
Per image, θ ~ U(-rotation_range, rotation_range) degrees, ty, tx ~ U(-shift_range,
shift_range) * (H, W) pixels, and z ~ U(1 - zoom_range, 1 + zoom_range), drawn in that order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]


def affine_warp(x: Array, angle: Array, shift: Array, zoom: Array) -> Array:
    """Rotate, zoom and shift each image of a batch about its centre (bilinear, zero outside).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    angle : ndarray, shape (N,)
        Counter-clockwise rotation in degrees.
    shift : ndarray, shape (N, 2)
        (ty, tx) in pixels; positive moves the content down / right.
    zoom : ndarray, shape (N,)
        Scale factor; > 1 enlarges the content.

    Returns
    -------
    out : ndarray, shape (N, H, W, C), dtype of ``x``
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {x.shape}")
    N, H, W, _ = x.shape
    theta = np.deg2rad(np.asarray(angle, dtype=np.float64)).reshape(N, 1, 1)
    shift = np.asarray(shift, dtype=np.float64).reshape(N, 2)
    zoom = np.asarray(zoom, dtype=np.float64).reshape(N, 1, 1)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    dy = np.arange(H, dtype=np.float64).reshape(1, H, 1) - cy - shift[:, 0, None, None]
    dx = np.arange(W, dtype=np.float64).reshape(1, 1, W) - cx - shift[:, 1, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    sy = cy + (sin * dx + cos * dy) / zoom  # (N, H, W)
    sx = cx + (cos * dx - sin * dy) / zoom  # (N, H, W)
    return bilinear_sample(x, sy, sx)


def bilinear_sample(x: Array, sy: Array, sx: Array) -> Array:
    """Sample each image ``x[n]`` at the real-valued points ``(sy[n], sx[n])``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    sy, sx : ndarray, shape (N, OH, OW)
        Row and column coordinates in pixels; points outside the image read 0.

    Returns
    -------
    out : ndarray, shape (N, OH, OW, C), dtype of ``x``
    """
    N, H, W, C = x.shape
    y0, x0 = np.floor(sy), np.floor(sx)
    fy, fx = (sy - y0).astype(x.dtype), (sx - x0).astype(x.dtype)
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
    flat = np.ascontiguousarray(x).reshape(N * H * W, C)
    base = (np.arange(N) * (H * W)).reshape(N, 1, 1)
    out = np.zeros(sy.shape + (C,), dtype=x.dtype)  # (N, OH, OW, C)
    corners = (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    )
    for oy, ox, weight in corners:
        yy, xx = y0 + oy, x0 + ox
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        index = base + np.clip(yy, 0, H - 1) * W + np.clip(xx, 0, W - 1)  # (N, OH, OW)
        weight = np.where(inside, weight, 0)
        out += flat[index] * weight[..., None]  # flat[index]: (N, OH, OW, C)
    return out


class Augmenter:
    """Random rotation, shift and zoom for a batch of images, one transform per image.

    Parameters
    ----------
    rotation_range : float
        Largest rotation in degrees (either direction).
    shift_range : float
        Largest shift as a fraction of the height (vertical) and width (horizontal).
    zoom_range : float
        Zoom factors are drawn from [1 - zoom_range, 1 + zoom_range]; 0 means no zoom.

    Examples
    --------
    >>> aug = Augmenter(rotation_range=10, shift_range=0.1)
    >>> xb_aug = aug(xb, np.random.default_rng(0))   # same shape and dtype as xb
    """

    def __init__(
        self, rotation_range: float = 10.0, shift_range: float = 0.1, zoom_range: float = 0.0
    ) -> None:
        for name, value, top in (
            ("rotation_range", rotation_range, 180.0),
            ("shift_range", shift_range, 1.0),
            ("zoom_range", zoom_range, 0.99),
        ):
            if not 0 <= value <= top:
                raise ValueError(f"{name} must be in [0, {top}], got {value}")
        self.rotation_range = float(rotation_range)
        self.shift_range = float(shift_range)
        self.zoom_range = float(zoom_range)

    def random_parameters(
        self, N: int, H: int, W: int, rng: np.random.Generator
    ) -> tuple[Array, Array, Array]:
        """Draw ``(angle (N,), shift (N, 2), zoom (N,))`` for N images of H x W pixels."""
        angle = rng.uniform(-self.rotation_range, self.rotation_range, size=N)
        shift = rng.uniform(-self.shift_range, self.shift_range, size=(N, 2)) * (H, W)
        zoom = rng.uniform(1 - self.zoom_range, 1 + self.zoom_range, size=N)
        return angle, shift, zoom

    def __call__(self, x: Array, rng: np.random.Generator) -> Array:
        """Augmented copy of the batch ``x`` (N, H, W, C); ``rng`` supplies the randomness."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"expected images of shape (N, H, W, C), got {x.shape}")
        N, H, W, _ = x.shape
        return affine_warp(x, *self.random_parameters(N, H, W, rng))

    def get_config(self) -> dict[str, Any]:
        """Arguments that rebuild this augmenter (stored in checkpoints)."""
        return {
            "rotation_range": self.rotation_range,
            "shift_range": self.shift_range,
            "zoom_range": self.zoom_range,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Augmenter({args})"


def example_grid(
    images: Array,
    augmenter: Augmenter,
    rng: np.random.Generator,
    variants: int = 7,
    pad: int = 1,
) -> NDArray[np.floating]:
    """A picture-ready tile: one row per image, the original first, then augmented versions.

    Parameters
    ----------
    images : ndarray, shape (R, H, W, 1) or (R, H, W)
        A few images (grey).
    augmenter : Augmenter
    rng : np.random.Generator
    variants : int
        Augmented versions per image.
    pad : int
        Pixels of background between tiles.

    Returns
    -------
    grid : ndarray, shape (R*(H+pad) - pad, (variants+1)*(W+pad) - pad)
        For ``plt.imshow(grid, cmap="gray")``.
    """
    x = np.asarray(images, dtype=np.float32)
    x = x[..., None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"expected grey images (R, H, W) or (R, H, W, 1), got {x.shape}")
    R, H, W, _ = x.shape
    tiles = np.empty((R, variants + 1, H, W), dtype=np.float32)
    tiles[:, 0] = x[..., 0]
    for v in range(variants):
        tiles[:, v + 1] = augmenter(x, rng)[..., 0]
    grid = np.zeros((R * (H + pad) - pad, (variants + 1) * (W + pad) - pad), dtype=np.float32)
    for r in range(R):
        for v in range(variants + 1):
            top, left = r * (H + pad), v * (W + pad)
            grid[top : top + H, left : left + W] = tiles[r, v]
    return grid
