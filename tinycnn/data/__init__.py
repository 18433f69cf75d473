"""The data layer: IDX files, MNIST (full, cached, downloaded or the embedded subset), preparation.

- ``idx``: ``load_idx`` / ``save_idx``, the IDX file format (raw or gzip).
- ``mnist``: ``load_mnist``, ``load_mnist_or_subset`` and where the files are looked for.
- ``download``: fetching the files from mirrors, checksummed and atomic.
- ``subset``: how the embedded 10,000 + 2,000 image subset was drawn.
- ``prep``: ``scale_images``, ``one_hot``, ``stratified_split``, ``minibatches``.
"""

from tinycnn.data.arrays import minibatches, one_hot, scale_images, stratified_split
from tinycnn.data.download import DownloadError, download_mnist
from tinycnn.data.idx import load_idx, save_idx
from tinycnn.data.mnist import MnistNotFoundError, load_mnist, load_mnist_or_subset

__all__ = [
    "DownloadError",
    "MnistNotFoundError",
    "download_mnist",
    "load_idx",
    "load_mnist",
    "load_mnist_or_subset",
    "minibatches",
    "one_hot",
    "save_idx",
    "scale_images",
    "stratified_split",
]
