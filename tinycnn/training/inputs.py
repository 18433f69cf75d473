"""The one input contract of ``fit``, ``evaluate`` and ``predict``.

Each entry point calls :func:`check_inputs` (``x``) and, when it has labels, :func:`check_labels`,
so the three agree on what they accept and say the same thing when they refuse:

- ``x`` is a floating-point array (uint8 pixels must be scaled first, e.g. with
  ``tinycnn.data.scale_images``: a network trained on [0, 1] answers confidently and wrongly on
  0..255), of shape ``(N, *model.input_shape)`` with ``N >= 1``, every value finite and of
  magnitude at most ``MAX_ABS`` (larger values overflow float32 activations, or are pixels that
  were never scaled);
- ``y`` holds ``N`` labels: integers (an integer dtype) in ``0..K-1``, where ``K`` is the size
  of the model's output, or rows of ``K`` non-negative class probabilities (one-hot or soft
  labels) summing to 1.

Cost: one pass over ``x`` (``isfinite`` and ``abs().max()``, about 30 ms for the 60,000 MNIST
training images), once per call, not per batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn.protocol import Model

MAX_ABS = 1e4  # the largest input magnitude accepted
ROW_SUM_TOLERANCE = 1e-3  # |sum of a probability row - 1| allowed (float32 rounding)


def check_inputs(model: Model, x: Any, name: str = "x") -> np.ndarray:
    """``x`` as an array, after the dtype, shape, emptiness, finiteness and range checks.

    Parameters
    ----------
    model : Sequential
        Its ``input_shape`` (when built) fixes the shape of one example.
    x : array_like, shape (N, *input_shape)
    name : str
        How messages call ``x`` (e.g. ``"validation_data x"``).

    Raises
    ------
    ValueError
        Naming what was expected and what was received.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{name} has dtype {x.dtype}; expected floating-point images (e.g. pixels scaled to "
            "[0, 1] with tinycnn.data.scale_images)"
        )
    shape = getattr(model, "input_shape", None)
    if shape is not None and (x.ndim < 2 or x.shape[1:] != tuple(shape)):
        expected = ", ".join(["N", *map(str, shape)])
        raise ValueError(f"{name}: expected shape ({expected}), got {x.shape}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one example, got shape {x.shape}")
    _check_values(x, name)
    return x


def _check_values(x: np.ndarray, name: str) -> None:
    with np.errstate(invalid="ignore", over="ignore"):
        finite = bool(np.isfinite(np.sum(x)))  # cheap; inf - inf or overflow fall through
        if not finite and not np.isfinite(x).all():
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            raise ValueError(f"{name} holds {bad} NaN or infinite values; expected finite inputs")
        largest = max(float(x.max()), -float(x.min()))
    if largest > MAX_ABS:
        raise ValueError(
            f"{name} holds values up to {largest:.3g} in magnitude; expected at most {MAX_ABS:g} "
            "(scale the inputs, e.g. pixels to [0, 1])"
        )


def check_xy(model: Model, x: Any, y: Any, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_inputs` on ``x`` and :func:`check_labels` on ``y``; ``name`` ends in x."""
    x = check_inputs(model, x, name)
    return x, check_labels(model, y, x.shape[0], name[:-1] + "y")


def check_labels(model: Model, y: Any, N: int, name: str = "y") -> np.ndarray:
    """``y`` as an array: N integer labels in 0..K-1, or N probability rows of length K.

    Raises
    ------
    ValueError
        Wrong shape, labels outside the model's classes, non-integer dtype, or probability rows
        that are negative, non-finite or do not sum to 1.
    """
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != N:
        raise ValueError(
            f"{name}: expected labels of shape ({N},) or one-hot ({N}, K), got {y.shape}"
        )
    K = _classes(model)
    if y.ndim == 2:
        _check_rows(y, K, name)
    else:
        _check_integers(y, K, name)
    return y


def _classes(model: Model) -> int | None:
    shapes = getattr(model, "output_shapes", None) or []
    return int(shapes[-1][0]) if shapes and len(shapes[-1]) == 1 else None


def _check_integers(y: np.ndarray, K: int | None, name: str) -> None:
    if y.dtype.kind not in "iu":  # as the loss requires; floats would hide 2.5 or NaN
        raise ValueError(
            f"{name}: expected integer class labels (N,) or probability rows (N, K), got "
            f"dtype {y.dtype}"
        )
    low, high = y.min(), y.max()
    top = "K-1" if K is None else str(K - 1)
    if low < 0 or (K is not None and high >= K):
        raise ValueError(
            f"{name}: labels must be in 0..{top} (the model has {K} classes), got {low:g}..{high:g}"
        )


def _check_rows(y: np.ndarray, K: int | None, name: str) -> None:
    if K is not None and y.shape[1] != K:
        raise ValueError(f"{name}: expected rows of {K} class probabilities, got {y.shape[1]}")
    if y.dtype.kind not in "iuf" or not np.isfinite(y).all() or y.min() < 0:
        raise ValueError(f"{name}: probability rows must be finite and non-negative")
    sums = y.sum(axis=1, dtype=np.float64)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > ROW_SUM_TOLERANCE:
        raise ValueError(
            f"{name}: each probability row must sum to 1, row {worst} sums to {sums[worst]:.6g}"
        )


def check_fit_options(callbacks: Any, augment: Any) -> tuple[list[Any], Any]:
    """``fit``'s ``callbacks`` as a list of Callback and ``augment`` as an Augmenter or None."""
    from tinycnn.training.augment import Augmenter
    from tinycnn.training.callbacks import Callback

    if isinstance(callbacks, Callback):
        raise ValueError("callbacks must be a list of Callback objects, got one Callback")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise ValueError(
            f"callbacks must be a list of Callback objects, got {callbacks!r}"
        ) from None
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise ValueError(
                f"callbacks[{i}] is {type(callback).__name__} {callback!r:.40}; expected a "
                "tinycnn.training.callbacks.Callback"
            )
    if augment is None or augment is False:
        return callbacks, None
    if augment is True:
        return callbacks, Augmenter()
    if not isinstance(augment, Augmenter):
        raise ValueError(f"augment must be True, False, None or an Augmenter, got {augment!r:.40}")
    return callbacks, augment


def check_validation_data(
    model: Model, validation_data: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """``fit``'s ``validation_data``: None, or a pair ``(x_val, y_val)`` meeting the contract."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validation_data must be a pair (x_val, y_val)")
    x_val = check_inputs(model, validation_data[0], "validation_data x")
    return x_val, check_labels(model, validation_data[1], x_val.shape[0], "validation_data y")
