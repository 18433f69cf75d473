"""Turn an arbitrary picture of a digit into an MNIST-style 28x28 image.

MNIST digits are white on black, cropped to the ink, scaled to fit a 20x20 box with their aspect
ratio kept (anti-aliased, so edges are grey), and placed in a 28x28 field with their centre of
mass at the centre (LeCun et al., "The MNIST database"). A photo or drawing of a digit must go
through the same steps, or a model trained on MNIST sees something it never learned:

1. grey levels in [0, 1] (transparent pixels count as white paper; 16-bit greys are divided by
   65535, not clipped at 255);
2. inverted when the background (the median of the border pixels) is light, so ink is bright;
3. the background level subtracted and the ink stretched to reach 1;
4. cropped to the bounding box of the pixels brighter than ``ink_threshold``;
5. resized by area averaging (anti-aliased) so the longer side is 20 pixels;
6. pasted into 28x28 so that its centre of mass lands on pixel (14, 14) (rounded).

Images are read with Pillow (installed with matplotlib), imported only when a file is read.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float32]
FIELD = 28
BOX = 20


MAX_IMAGE_PIXELS = 25_000_000  # 5000 x 5000; a digit photo needs far fewer


def read_grey(path: str | os.PathLike) -> Array:
    """A picture file (PNG, JPEG, ...) as grey levels in [0, 1], shape (H, W).

    Transparent pixels are composited onto white, as if the drawing were on paper. Every mode
    Pillow reads is turned into grey at its own depth: 16-bit grey (``I;16``, and ``I`` as
    Pillow reads a 16-bit PNG) is divided by 65535 (converting it through 8-bit RGBA would clip
    every level above 255 to white), 32-bit float (``F``) is taken as [0, 1] when it lies there
    and as 0..255 otherwise, and the others (bilevel, palette, grey or colour with or without
    alpha, CMYK, ...) go through RGBA. The size in the file's header is checked before any pixel
    is decoded: over ``MAX_IMAGE_PIXELS`` pixels (a decompression bomb can declare gigapixels in
    74 bytes) is refused.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a regular file, not a readable image, or too many pixels.
    """
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow comes with matplotlib
        raise ValueError(f"reading {path} needs Pillow (pip install pillow): {error}") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file (a folder, FIFO or device)")
    try:
        with Image.open(path) as image:  # Pillow itself refuses over 2 * MAX_IMAGE_PIXELS
            W, H = image.size
            if W * H > MAX_IMAGE_PIXELS:
                raise ValueError(
                    f"{W}x{H} pixels, over the limit of {MAX_IMAGE_PIXELS:,}; scale it down"
                )
            image.load()
            deep = _deep_grey(image)
            rgba = image.convert("RGBA") if deep is None else None
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path}: the picture is over the limit of pixels ({error})") from None
    except Exception as error:  # Pillow's decoders raise many kinds for a damaged file
        raise ValueError(f"{path}: not a readable image ({error})") from None
    if deep is not None:
        return deep
    assert rgba is not None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, rgba).convert("L")
    return np.asarray(grey, dtype=np.float32) / 255.0


def _deep_grey(image: Any) -> Array | None:
    """Grey levels in [0, 1] of a 16-bit or 32-bit grey picture, None for any other mode."""
    if image.mode.startswith("I;16") or image.mode == "I":
        levels = np.asarray(image, dtype=np.float64) / 65535.0  # (H, W)
    elif image.mode == "F":
        levels = np.asarray(image, dtype=np.float64)
        levels = np.nan_to_num(levels, nan=0.0, posinf=255.0, neginf=0.0)
        if levels.max(initial=0.0) > 1.0:
            levels = levels / 255.0
    else:
        return None
    return np.clip(levels, 0.0, 1.0).astype(np.float32)


def resize_area(image: NDArray[np.floating], OH: int, OW: int) -> NDArray[np.float64]:
    """Resize by averaging the source area under each output pixel (anti-aliased).

    Parameters
    ----------
    image : ndarray, shape (H, W)
    OH, OW : int
        Output size.

    Returns
    -------
    out : ndarray, shape (OH, OW)

    Notes
    -----
    ``out = Ry @ image @ Rx.T`` where ``Ry[o, i]`` is the length of the overlap of output row
    ``o`` (spanning ``[o*H/OH, (o+1)*H/OH)`` in source pixels) with source row ``i``, divided by
    ``H/OH``; the same for columns. Each row of ``Ry`` sums to 1.
    """
    H, W = image.shape
    return _overlap(OH, H) @ image.astype(np.float64) @ _overlap(OW, W).T


def _overlap(n_out: int, n_in: int) -> NDArray[np.float64]:
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale  # (n_out, 1)
    left = np.maximum(lo, np.arange(n_in)[None, :])
    right = np.minimum(lo + scale, np.arange(n_in)[None, :] + 1)
    return np.clip(right - left, 0, None) / scale  # (n_out, n_in)


def mnist_style(grey: Array, ink_threshold: float = 0.2) -> Array:
    """Steps 2-6 of the module docstring on a grey image in [0, 1].

    Parameters
    ----------
    grey : ndarray, shape (H, W)
        Grey levels in [0, 1], ink dark or bright.
    ink_threshold : float
        Level (after inversion and stretching) above which a pixel counts as ink for cropping.

    Returns
    -------
    image : ndarray, shape (28, 28, 1), float32 in [0, 1]
        White digit on black, like MNIST after ``scale_images``.
    """
    grey = np.asarray(grey, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 2:
        raise ValueError(f"expected a grey image of shape (H, W), got {grey.shape}")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:
        grey, border = 1.0 - grey, 1.0 - border
    background = float(np.median(border))
    span = float(grey.max()) - background
    if span < 0.05:
        raise ValueError("no digit found: the image has no ink distinct from its background")
    ink = np.clip((grey - background) / span, 0.0, 1.0)
    rows, cols = (
        np.flatnonzero(ink.max(axis=1) > ink_threshold),
        np.flatnonzero(ink.max(axis=0) > ink_threshold),
    )
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    H, W = ink.shape
    scale = BOX / max(H, W)
    OH, OW = max(1, round(H * scale)), max(1, round(W * scale))
    patch = resize_area(ink, OH, OW).astype(np.float64)
    return _centre_by_mass(patch).astype(np.float32)[..., np.newaxis]


def _centre_by_mass(patch: NDArray[np.float64]) -> NDArray[np.float64]:
    """Paste ``patch`` into a 28x28 field with its centre of mass at (14, 14)."""
    OH, OW = patch.shape
    total = patch.sum()
    cy = float((patch.sum(axis=1) * np.arange(OH)).sum() / total)
    cx = float((patch.sum(axis=0) * np.arange(OW)).sum() / total)
    top = int(np.clip(round(FIELD / 2 - cy), 0, FIELD - OH))
    left = int(np.clip(round(FIELD / 2 - cx), 0, FIELD - OW))
    field = np.zeros((FIELD, FIELD))
    field[top : top + OH, left : left + OW] = patch
    return field


def preprocess_image(path: str | os.PathLike) -> Array:
    """Read a picture file and make it MNIST-style: shape (28, 28, 1), float32 in [0, 1]."""
    return mnist_style(read_grey(path))
