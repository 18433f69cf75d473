"""tinycnn: a convolutional neural network library written from scratch in NumPy.

The public API in one place::

    import tinycnn as tc

    (x_train, y_train), (x_test, y_test) = tc.load_mnist_or_subset()
    model = tc.seed_cnn(seed=0)                       # Conv-Pool-Conv-Pool-Dense-Dropout-Dense
    model.compile(optimizer=tc.Adam(1e-3), loss="softmax_cross_entropy")
    history = model.fit(tc.scale_images(x_train), y_train, epochs=3, validation_split=0.1)

Subpackages: :mod:`tinycnn.layers` (one layer a file), :mod:`tinycnn.kernels` (im2col, pooling,
on the NumPy or Numba backend), :mod:`tinycnn.optim`, :mod:`tinycnn.data`,
:mod:`tinycnn.training.metrics`,
:mod:`tinycnn.plots` (the only module that imports matplotlib, imported on demand) and
:mod:`tinycnn.interop` (Keras conversion, imports TensorFlow on demand).
"""

from __future__ import annotations

from tinycnn import kernels, runtime
from tinycnn._version import __version__
from tinycnn.data import (
    load_idx,
    load_mnist,
    load_mnist_or_subset,
    minibatches,
    one_hot,
    save_idx,
    scale_images,
    stratified_split,
)
from tinycnn.kernels.geometry import conv_output_size
from tinycnn.kernels.im2col import col2im, im2col
from tinycnn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Softmax,
)
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential, load_model
from tinycnn.optim import SGD, Adam
from tinycnn.runtime import get_backend, set_backend, set_threads, use_backend
from tinycnn.saving.io import save_model
from tinycnn.teach.doctor import doctor
from tinycnn.teach.probes import feature_maps, shift_accuracy
from tinycnn.teach.trace import trace
from tinycnn.testing.gradcheck import GradcheckResult, gradcheck
from tinycnn.training import metrics
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from tinycnn.training.history import History
from tinycnn.training.loop import NonFiniteLossError, TrainingError
from tinycnn.zoo import deep_cnn_bn, dense_baseline, seed_cnn, seed_cnn_bn

__all__ = [
    "SGD",
    "Adam",
    "Augmenter",
    "BatchNormalization",
    "Callback",
    "Conv2D",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "GradcheckResult",
    "History",
    "LambdaCallback",
    "Layer",
    "MaxPool2D",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ReLU",
    "ReduceLROnPlateau",
    "Sequential",
    "Softmax",
    "SoftmaxCrossEntropy",
    "TrainingError",
    "__version__",
    "col2im",
    "conv_output_size",
    "deep_cnn_bn",
    "dense_baseline",
    "doctor",
    "feature_maps",
    "get_backend",
    "gradcheck",
    "im2col",
    "kernels",
    "load_idx",
    "load_mnist",
    "load_mnist_or_subset",
    "load_model",
    "metrics",
    "minibatches",
    "one_hot",
    "save_idx",
    "save_model",
    "scale_images",
    "seed_cnn",
    "seed_cnn_bn",
    "set_backend",
    "set_threads",
    "shift_accuracy",
    "stratified_split",
    "trace",
    "runtime",
    "use_backend",
]
