"""Inference in batches: the logits of many examples, and the loss and accuracy on them.

Finite weights are not enough for finite answers (a huge moving mean, weights that overflow
float32 together), so every batch's logits are checked: a NaN or infinite one is a
``ValueError`` naming the first layer whose output is not finite, never a ``nan%`` answer.
"""

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
        with np.errstate(over="ignore", invalid="ignore"):  # checked below, said in words
            logits = model.forward(xb, training=False, logits=True)  # (B, K)
        if not np.isfinite(logits).all():
            raise ValueError(non_finite_message(model, xb, start))
        yield logits


def non_finite_message(model: Model, xb: np.ndarray, start: int) -> str:
    """Which layer first gives a NaN or infinite output for the batch ``xb`` (run eagerly)."""
    out = xb
    for i, layer in enumerate(model.layers):
        with np.errstate(over="ignore", invalid="ignore"):
            out = layer.forward(out, training=False)
        bad = ~np.isfinite(out).reshape(out.shape[0], -1).all(axis=1)  # (B,)
        if bad.any():
            return (
                f"the model's output is not finite: layer {i} ({layer.describe()}) gives NaN or "
                f"infinite values for example {start + int(np.argmax(bad))}: its weights "
                "make values beyond float range; check the model file or retrain"
            )
    return "the model's output is not finite (NaN or infinite logits)"


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
