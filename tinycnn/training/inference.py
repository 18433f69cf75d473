"""Inference in batches: the logits of many examples, and the loss and accuracy on them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinycnn.layers.base import Array
from tinycnn.protocol import Model, model_dtype
from tinycnn.training.metrics import to_labels


def batch_logits(model: Model, x: np.ndarray, batch_size: int) -> Iterator[Array]:
    """The logits (pre-softmax outputs) of ``x`` (N, ...) in inference mode, batch by batch."""
    dtype = model_dtype(model)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size].astype(dtype, copy=False)
        yield model.forward(xb, training=False, logits=True)  # (B, K)


def evaluate_arrays(model: Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
    """``{"loss": mean loss, "accuracy": fraction correct}`` on ``(x, y)``."""
    from tinycnn.losses import SoftmaxCrossEntropy

    loss_fn = getattr(model, "loss", None) or SoftmaxCrossEntropy()
    labels = to_labels(y)
    total_loss, correct, start = 0.0, 0, 0
    for logits in batch_logits(model, x, batch_size):
        n = logits.shape[0]
        total_loss += float(loss_fn.forward(logits, y[start : start + n])) * n
        correct += int(np.sum(np.argmax(logits, axis=1) == labels[start : start + n]))
        start += n
    N = max(x.shape[0], 1)
    return {"loss": total_loss / N, "accuracy": correct / N}
