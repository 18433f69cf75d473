"""The embedded MNIST subset: how it is drawn from the full set, and where each image came from.

The package ships ``SUBSET_SIZES`` real MNIST images (10,000 training and 2,000 test) in
``tinycnn/data/mnist_subset/`` as gzipped IDX files under the standard names, so ``load_mnist``
reads them like any other MNIST folder. Two more files record, for every subset image, its index
in the full set (``train-indices-idx1-int.gz``, ``t10k-indices-idx1-int.gz``, int32).

Each part is stratified: class k gets ``floor`` or ``ceil`` of ``size * n_k / N`` images (largest
remainders, see ``stratified_counts``), so class proportions match the full set's within one image
per class. Which images of a class are taken is drawn with ``np.random.default_rng(SUBSET_SEED)``,
and they keep their order in the full set. ``scripts/make_mnist_subset.py`` calls
``write_subset`` to regenerate the files byte for byte (the gzip output is reproducible, see
``save_idx``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinycnn.data.arrays import stratified_counts
from tinycnn.data.idx import load_idx, save_idx
from tinycnn.data.mnist import (
    SUBSET_DIR,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    read_mnist,
)

SUBSET_SEED = 20240521
SUBSET_SIZES = {"train": 10_000, "t10k": 2_000}
TRAIN_INDICES = "train-indices-idx1-int"
TEST_INDICES = "t10k-indices-idx1-int"


def choose_stratified(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a class-stratified random sample of ``size`` labels.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        Labels 0..K-1.
    size : int
        How many to choose, at most N.
    rng : np.random.Generator
        Draws, for each class in turn (0, 1, ...), ``rng.permutation`` of its members.

    Returns
    -------
    ndarray of int32, shape (size,)
        Sorted indices into ``y``.
    """
    counts = stratified_counts(np.bincount(y), size)
    chosen = [rng.permutation(np.flatnonzero(y == k))[:m] for k, m in enumerate(counts)]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def write_subset(
    source: str | os.PathLike, out: str | os.PathLike = SUBSET_DIR, seed: int = SUBSET_SEED
) -> list[Path]:
    """Draw the subset from the full MNIST in ``source`` and write its six files into ``out``.

    Returns
    -------
    list of Path
        The files written: images, labels and indices for training, then for test.
    """
    (x_train, y_train), (x_test, y_test) = read_mnist(source)
    rng = np.random.default_rng(seed)
    train = choose_stratified(y_train, SUBSET_SIZES["train"], rng)
    test = choose_stratified(y_test, SUBSET_SIZES["t10k"], rng)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    contents = {
        TRAIN_IMAGES: x_train[train, :, :, 0],  # (N, 28, 28), as IDX stores images
        TRAIN_LABELS: y_train[train],
        TRAIN_INDICES: train,
        TEST_IMAGES: x_test[test, :, :, 0],
        TEST_LABELS: y_test[test],
        TEST_INDICES: test,
    }
    written = []
    for name, array in contents.items():
        save_idx(out / (name + ".gz"), array)
        written.append(out / (name + ".gz"))
    return written


def subset_indices(folder: str | os.PathLike = SUBSET_DIR) -> tuple[np.ndarray, np.ndarray]:
    """For each subset image, its index in the full set.

    Returns
    -------
    train_indices : ndarray of int32, shape (10000,)
    test_indices : ndarray of int32, shape (2000,)
        ``load_mnist(subset=True)[0][0][i]`` is full-set training image ``train_indices[i]``.
    """
    folder = Path(folder)
    return (
        load_idx(folder / (TRAIN_INDICES + ".gz"), dtype=np.int32),
        load_idx(folder / (TEST_INDICES + ".gz"), dtype=np.int32),
    )
