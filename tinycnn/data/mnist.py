"""Load MNIST (or any data set in its format) as uint8 NHWC arrays.

Where the data comes from, in order:

1. ``path``, when given: a folder holding the four IDX files under their standard names, each raw
   or gzipped (``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``, and so on). Any
   MNIST-format data set (e.g. Fashion-MNIST) works.
2. Otherwise the folder named by the environment variable ``TINYCNN_DATA_DIR``, if it holds all
   four files (an incomplete folder is skipped, and named in the error if nothing else works),
3. then the cache folder ``$XDG_CACHE_HOME/tinycnn/mnist`` (``~/.cache/tinycnn/mnist`` when
   ``XDG_CACHE_HOME`` is unset),
4. then a download from public mirrors into the cache folder (see ``tinycnn.data.download``).

If all of this fails, ``MnistNotFoundError`` (a ``FileNotFoundError``) says where it looked, how
to provide the files offline, and what to call instead: ``load_mnist(subset=True)`` returns the
small real-MNIST subset shipped inside the package (10,000 training and 2,000 test images), and
``load_mnist_or_subset()`` falls back to it with a notice. ``load_mnist()`` itself never swaps
the subset in silently: a result of 12,000 images where 70,000 were asked for would make every
figure computed from it wrong without a word. The command line falls back (``tinycnn train``
says so on its first line).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinycnn.data import download as _download
from tinycnn.data.idx import load_idx

ENV_VAR = "TINYCNN_DATA_DIR"
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# The embedded subset: the same four file names, made by scripts/make_mnist_subset.py.
SUBSET_DIR = Path(__file__).resolve().parent / "mnist_subset"

Split = tuple[np.ndarray, np.ndarray]


class MnistNotFoundError(FileNotFoundError):
    """The data set is in none of the places searched and could not be downloaded.

    A ``FileNotFoundError`` (so ``except FileNotFoundError`` catches it); the message lists the
    places searched, why each failed, and how to provide the files offline.
    """


def cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/tinycnn/mnist`` or ``~/.cache/tinycnn/mnist``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative XDG_CACHE_HOME.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tinycnn" / "mnist"


def find_files(folder: str | os.PathLike) -> dict[str, Path]:
    """The standard files present in ``folder``: name -> path (the raw file preferred to .gz).

    A complete folder gives all four names of ``MNIST_FILES``.
    """
    folder = Path(folder)
    found = {}
    for name in MNIST_FILES:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def search_places() -> list[tuple[Path, str]]:
    """Folders searched when no path is given, in order, with how each was chosen."""
    places = []
    if os.environ.get(ENV_VAR):
        places.append((Path(os.environ[ENV_VAR]), ENV_VAR))
    places.append((cache_dir(), "cache"))
    return places


def locate_mnist() -> tuple[Path, str] | None:
    """The first searched folder holding all four files, with its origin; None if there is none.

    Never downloads.
    """
    for folder, origin in search_places():
        if len(find_files(folder)) == len(MNIST_FILES):
            return folder, origin
    return None


def read_mnist(folder: str | os.PathLike) -> tuple[Split, Split]:
    """Read the four IDX files of ``folder`` and check that they fit together.

    Parameters
    ----------
    folder : str or PathLike
        Holds the four files of ``MNIST_FILES``, each raw or ``.gz``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Images uint8, shape (N, H, W, 1) (a channel axis added, NHWC); labels uint8, shape (N,).

    Raises
    ------
    MnistNotFoundError
        If a file is missing.
    ValueError
        If a file is corrupt, not uint8, of the wrong rank, holds a label outside 0..9, or if
        images and labels disagree in number, or train and test images in size.
    """
    folder = Path(folder)
    files = find_files(folder)
    missing = [name for name in MNIST_FILES if name not in files]
    if not folder.is_dir():
        raise MnistNotFoundError(f"{folder} is not a folder (expected one with the MNIST files)")
    if missing:
        raise MnistNotFoundError(
            f"{folder} lacks {', '.join(missing)} (each as itself or with .gz); "
            f"expected the four files {', '.join(MNIST_FILES)}"
        )
    arrays = {name: load_idx(path, dtype=np.uint8) for name, path in files.items()}
    for name in (TRAIN_LABELS, TEST_LABELS):
        _check_digits(arrays[name], files[name])
    train = _pair(arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS], files[TRAIN_IMAGES])
    test = _pair(arrays[TEST_IMAGES], arrays[TEST_LABELS], files[TEST_IMAGES])
    if train[0].shape[1:] != test[0].shape[1:]:
        raise ValueError(
            f"{folder}: training images are {train[0].shape[1:3]}, "
            f"test images {test[0].shape[1:3]}; expected the same size"
        )
    return train, test


def _check_digits(labels: np.ndarray, path: Path) -> None:
    """MNIST labels are the digits 0..9; anything else is a corrupt or foreign file."""
    if labels.size and labels.max() > 9:
        where = int(np.argmax(labels > 9))
        raise ValueError(
            f"{path}: label {int(labels[where])} at position {where}; expected digits 0..9"
        )


def _pair(images: np.ndarray, labels: np.ndarray, images_path: Path) -> Split:
    """Images (N, H, W) and labels (N,) as (N, H, W, 1) and (N,), after checking the shapes."""
    if images.ndim != 3:
        raise ValueError(f"{images_path}: expected images of shape (N, H, W), got {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{images_path}: {images.shape[0]} images but labels of shape {labels.shape}; "
            f"expected ({images.shape[0]},)"
        )
    return images[..., np.newaxis], labels  # (N, H, W, 1)


def load_mnist(
    path: str | os.PathLike | None = None,
    subset: bool = False,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Parameters
    ----------
    path : str or PathLike, optional
        A folder with the four IDX files (raw or .gz). Without it, the folder named by
        ``TINYCNN_DATA_DIR``, then the cache folder, then a download (see the module docstring).
    subset : bool
        Return the embedded subset instead (10,000 training, 2,000 test images); ``path`` must
        then be None.
    download : bool
        Whether to try the mirrors when the files are nowhere to be found.
    mirrors : sequence of str, optional
        Base URLs for the download; default ``tinycnn.data.download.MIRRORS``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: uint8, shape (N, 28, 28, 1), pixels 0-255 (NHWC). y: uint8, shape (N,), digits 0-9.
        Full MNIST has N = 60,000 and 10,000.

    Raises
    ------
    MnistNotFoundError
        Nothing found and no download possible; the message says how to provide the files.
    ValueError
        A file was found but is corrupt or inconsistent.
    """
    if subset:
        if path is not None:
            raise ValueError("give either path or subset=True, not both")
        return read_mnist(SUBSET_DIR)
    if path is not None:
        return read_mnist(path)
    located = locate_mnist()
    if located is not None:
        return read_mnist(located[0])
    folder = cache_dir()
    if not download:
        raise MnistNotFoundError(_not_found_message("downloading was turned off"))
    try:
        _download.download_mnist(folder, mirrors=mirrors)
    except (_download.DownloadError, OSError) as error:
        raise MnistNotFoundError(_not_found_message(f"the download failed: {error}")) from None
    return read_mnist(folder)


def _not_found_message(download_outcome: str) -> str:
    """Where we looked, what happened, and how to provide the files offline."""
    lines = ["MNIST not found. Looked for the four files " + ", ".join(MNIST_FILES) + " in:"]
    if not os.environ.get(ENV_VAR):
        lines.append(f"  ${ENV_VAR}: not set")
    for folder, origin in search_places():
        missing = [name for name in MNIST_FILES if name not in find_files(folder)]
        lines.append(f"  {folder} ({origin}): missing {', '.join(missing)}")
    lines += [
        f"and {download_outcome}",
        f"To work offline, set {ENV_VAR} to a folder holding the four files (raw or .gz), or copy "
        f"them into {cache_dir()}; or run 'tinycnn data download' when online.",
        "Or use the real-MNIST subset shipped with tinycnn (10,000 training and 2,000 test "
        "images): load_mnist(subset=True), or load_mnist_or_subset() to fall back to it.",
    ]
    return "\n".join(lines)


def load_mnist_or_subset(path: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Full MNIST if it can be had (see ``load_mnist``), else the embedded subset.

    Parameters
    ----------
    path : str or PathLike, optional
        A folder with the four files. When given, it is used as is: a missing file there is an
        error, not a reason to fall back (the caller asked for that folder).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        As ``load_mnist``. The fallback prints a one-line notice on stderr. Only a missing data
        set (``MnistNotFoundError``) falls back; a corrupt file still raises ValueError.
    """
    if path is not None:
        return load_mnist(path)
    try:
        return load_mnist()
    except MnistNotFoundError:
        (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
        print(
            "tinycnn: full MNIST not available (see 'tinycnn data info'); using the embedded "
            f"subset of {len(x_train):,} training and {len(x_test):,} test images",
            file=sys.stderr,
        )
        return (x_train, y_train), (x_test, y_test)
