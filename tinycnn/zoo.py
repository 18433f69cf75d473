"""Ready-made models: the seed CNN and the dense baseline, as in the Keras MNIST examples, and
the seed CNN with batch normalization plus its training recipe (``recipe``).

Both end in ``Dense(10, activation="softmax")``: ``model.forward(x)`` returns class
probabilities, and training uses the logits before that softmax (see ``tinycnn.losses``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinycnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from tinycnn.layers.base import Layer
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.optim.schedules import CosineDecay
from tinycnn.training.augment import Augmenter


def _conv_pool(filters: int, normalised: bool = False) -> list[Layer]:
    """``Conv2D(filters, 3, relu) - MaxPool2D(2)``, then ``BatchNormalization`` if
    ``normalised``: one block of the seed CNN and its variants."""
    block = [Conv2D(filters, 3, activation="relu"), MaxPool2D(2)]
    return [*block, BatchNormalization()] if normalised else block


def _classifier(normalised: bool = False) -> list[Layer]:
    """``Flatten - Dense(128, relu) - [BatchNormalization] - Dropout(0.5) - Dense(10, softmax)``:
    the seed CNN's head, shared by its variants."""
    hidden = [Dense(128, activation="relu"), *([BatchNormalization()] if normalised else [])]
    return [Flatten(), *hidden, Dropout(0.5), Dense(10, activation="softmax")]


def _mnist(layers: list[Layer], seed: int | None) -> Sequential:
    """``layers`` built for 28x28x1 images, weights and dropout masks drawn from ``seed``."""
    return Sequential(layers, input_shape=(28, 28, 1), seed=seed)


def seed_cnn(seed: int | None = None) -> Sequential:
    """The seed CNN for 28x28x1 images: 225,034 parameters, built.

    ``Conv2D(32, 3, relu) - MaxPool2D(2) - Conv2D(64, 3, relu) - MaxPool2D(2) - Flatten -
    Dense(128, relu) - Dropout(0.5) - Dense(10, softmax)``; shapes (26,26,32) (13,13,32)
    (11,11,64) (5,5,64) (1600,) (128,) (128,) (10,).

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    return _mnist([*_conv_pool(32), *_conv_pool(64), *_classifier()], seed)


def dense_baseline(seed: int | None = None) -> Sequential:
    """A multilayer perceptron for 28x28x1 images: 669,706 parameters, built.

    ``Flatten - Dense(512, relu) - Dropout(0.2) - Dense(512, relu) - Dropout(0.2) -
    Dense(10, softmax)``.

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    layers = [
        Flatten(),
        Dense(512, activation="relu"),
        Dropout(0.2),
        Dense(512, activation="relu"),
        Dropout(0.2),
        Dense(10, activation="softmax"),
    ]
    return _mnist(layers, seed)


def seed_cnn_bn(seed: int | None = None) -> Sequential:
    """The seed CNN with batch normalization: 225,930 parameters (448 non-trainable), built.

    ``Conv2D(32, 3, relu) - MaxPool2D(2) - BatchNormalization - Conv2D(64, 3, relu) -
    MaxPool2D(2) - BatchNormalization - Flatten - Dense(128, relu) - BatchNormalization -
    Dropout(0.5) - Dense(10, softmax)``: the seed CNN's layers and shapes, each block's output
    normalised. Normalising after the pooling (not between the convolution and its ReLU) keeps
    each Conv2D(relu) + MaxPool2D pair whole for the fused step, and normalises 4x fewer values.
    The 896 extra numbers are γ, β and the two moving statistics of 32 + 64 + 128 channels.
    Train it with ``recipe("cnn_bn", ...)``.

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    layers = [*_conv_pool(32, normalised=True), *_conv_pool(64, normalised=True)]
    return _mnist([*layers, *_classifier(normalised=True)], seed)


def deep_cnn_bn(seed: int | None = None) -> Sequential:
    """The seed CNN with batch normalization and a third convolution: 189,386 parameters
    (576 non-trainable), built.

    ``Conv2D(32, 3, relu) - MaxPool2D(2) - BatchNormalization - Conv2D(64, 3, relu) -
    BatchNormalization - Conv2D(64, 3, relu) - MaxPool2D(2) - BatchNormalization - Flatten -
    Dense(128, relu) - BatchNormalization - Dropout(0.5) - Dense(10, softmax)``; shapes
    (26,26,32) (13,13,32) (11,11,64) (9,9,64) (4,4,64) (1024,) (128,) (10,). The extra 3x3
    convolution widens what each feature sees (a 5x5 window after the second pooling's input) and
    shrinks the flattened vector, so the model has fewer parameters than the seed CNN but about
    twice its multiply-adds. Train it with ``recipe("cnn_bn_deep", ...)``.

    Parameters
    ----------
    seed : int, optional
        Seed for the weights and the dropout masks.
    """
    layers = [
        *_conv_pool(32, normalised=True),
        Conv2D(64, 3, activation="relu"),
        BatchNormalization(),
        *_conv_pool(64, normalised=True),
    ]
    return _mnist([*layers, *_classifier(normalised=True)], seed)


@dataclass
class Recipe:
    """How to train a zoo model: what ``fit`` and ``compile`` get.

    Attributes
    ----------
    epochs, batch_size : int
    optimizer : Optimizer
        With its learning-rate schedule, sized for the run.
    augment : Augmenter or None
    """

    epochs: int
    batch_size: int
    optimizer: Any
    augment: Augmenter | None


def recipe(name: str, train_samples: int, epochs: int | None = None) -> Recipe:
    """The training recipe of the zoo model ``name`` for ``train_samples`` training images.

    ``"cnn"`` and ``"dense"``: the accuracy protocol's plain Adam(1e-3), batch 64, 10 epochs.
    ``"cnn_bn"`` and ``"cnn_bn_deep"``: 15 epochs of batch 64 with the default augmentation
    (rotations up to 10 degrees, shifts up to 10%) and Adam following a ``CosineDecay`` with
    warm-up: from 1e-4 up to 2e-3 during the first epoch (batch normalization tolerates the
    larger rate), then half a cosine down to 0 at the last step, so the last epochs take small,
    averaging steps.

    Parameters
    ----------
    name : {"cnn", "dense", "cnn_bn", "cnn_bn_deep"}
    train_samples : int
        Images per epoch (after the validation split): sets the schedule's length in steps.
    epochs : int, optional
        Overrides the recipe's epochs (the schedule is stretched to match).
    """
    if name not in MODELS:
        raise ValueError(f"unknown zoo model {name!r}; expected one of {list(MODELS)}")
    batch_size = 64
    if name not in RECIPE_MODELS:
        return Recipe(epochs or 10, batch_size, Adam(1e-3), None)
    epochs = epochs or 15
    steps = -(-train_samples // batch_size) * epochs  # updates in the whole run
    warmup = min(steps // epochs, steps // 2)
    schedule = CosineDecay(1e-4, steps - warmup, warmup_target=2e-3, warmup_steps=warmup)
    return Recipe(epochs, batch_size, Adam(schedule), Augmenter())


MODELS = {
    "cnn": seed_cnn,
    "dense": dense_baseline,
    "cnn_bn": seed_cnn_bn,
    "cnn_bn_deep": deep_cnn_bn,
}
RECIPE_MODELS = ("cnn_bn", "cnn_bn_deep")  # trained with the schedule and augmentation
