"""Exploration, not the protocol: the augmented seed-CNN protocol with two other augmentations.

``int2``: whole-pixel shifts of up to 2 pixels (no interpolation, so no blur); ``half``: the
default ``Augmenter`` on a random half of each batch. Seeds 0-4, otherwise the protocol's
settings. Used in session 2 (docs/benchmarks.md)::

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/explore_augment.py half
"""

import statistics
import sys
import time

import numpy as np

from tinycnn.data import load_mnist, scale_images
from tinycnn.optim import Adam
from tinycnn.training.augment import Augmenter
from tinycnn.zoo import seed_cnn


class IntShift(Augmenter):
    """Whole-pixel shifts in [-k, k] on each axis, zero fill: no interpolation, no blur."""

    def __init__(self, k=2):
        super().__init__(0, 0, 0)
        self.k = k

    def __call__(self, x, rng):
        N, H, W, C = x.shape
        k = self.k
        pad = np.zeros((N, H + 2 * k, W + 2 * k, C), x.dtype)
        pad[:, k : k + H, k : k + W] = x
        dy = rng.integers(-k, k + 1, N)
        dx = rng.integers(-k, k + 1, N)
        out = np.empty_like(x)
        for n in range(N):
            out[n] = pad[n, k - dy[n] : k - dy[n] + H, k - dx[n] : k - dx[n] + W]
        return out

    def get_config(self):
        return {"int_shift": self.k}


class Half(Augmenter):
    """The default augmentation on a random half of each batch; the rest untouched."""

    def __call__(self, x, rng):
        out = super().__call__(x, rng)
        keep = rng.random(len(x)) < 0.5
        out[keep] = x[keep]
        return out

    def get_config(self):
        return {"half": super().get_config()}


if len(sys.argv) != 2 or sys.argv[1] not in ("int2", "half"):
    sys.exit("usage: explore_augment.py int2|half")
kind = sys.argv[1]
aug = IntShift(2) if kind == "int2" else Half()
(xtr, ytr), (xte, yte) = load_mnist(download=False)
xtr, xte = scale_images(xtr), scale_images(xte)
res = []
print(kind, flush=True)
for seed in range(5):
    m = seed_cnn(seed)
    m.compile(optimizer=Adam(1e-3))
    t = time.time()
    m.fit(
        xtr,
        ytr.astype(np.int64),
        epochs=10,
        batch_size=64,
        validation_split=0.1,
        seed=seed,
        augment=aug,
        verbose=0,
    )
    acc = m.evaluate(xte, yte.astype(np.int64))[1]
    res.append(acc)
    print(f"seed {seed}: {acc:.2%} ({time.time() - t:.0f}s)", flush=True)
print(f"median {statistics.median(res):.2%} min {min(res):.2%} max {max(res):.2%}")
