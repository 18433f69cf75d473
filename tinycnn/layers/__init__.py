"""Layers: each file tells one layer's story (math in its docstring, then forward, backward).

``LAYERS`` maps a class name to its class, so a model saved as
``{"class_name": "Dense", "config": {...}}`` is rebuilt with ``LAYERS["Dense"](**config)``.
"""

from __future__ import annotations

from tinycnn.layers.activation import get_activation
from tinycnn.layers.base import Layer
from tinycnn.layers.batchnorm import BatchNormalization
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.dense import Dense
from tinycnn.layers.dropout import Dropout
from tinycnn.layers.flatten import Flatten
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.layers.relu import ReLU
from tinycnn.layers.softmax import Softmax

LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Conv2D, MaxPool2D, Dense, Flatten, ReLU, Softmax, Dropout, BatchNormalization)
}

__all__ = [
    "LAYERS",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "ReLU",
    "Softmax",
    "get_activation",
]
