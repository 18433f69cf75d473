"""The training loop, ``fit``, and inference: ``evaluate``, ``predict``, ``predict_classes``.

``Sequential.fit/evaluate/predict/predict_classes`` delegate here. ``fit`` is the whole story
of training in one screen: for each epoch, for each batch, forward, loss, backward, update.
Everything around it (arguments, validation split, shuffling, checkpoints and resuming, Ctrl-C,
a NaN loss, progress lines, callbacks) is :class:`tinycnn.training.run.Run`'s job.

Reproducibility: ``seed`` fixes the validation split, the shuffling order and the augmentation;
Dropout masks come from the layers' own generators (the model's seed). When ``seed`` is None a
fresh one is drawn and recorded in ``history.params["seed"]``, so any run can be repeated.

Failures
--------
- A NaN or infinite loss, gradient or weight raises :class:`NonFiniteLossError` (a
  :class:`TrainingError` and a ``FloatingPointError``) at once, naming the epoch, the batch and
  (for a gradient or weight) the parameter; the model keeps finite weights (see
  :mod:`tinycnn.training.guard`) and no checkpoint is written after it.
- ``x`` and ``y`` of ``fit``, ``evaluate`` and ``predict`` follow one contract (dtype, shape,
  range, finiteness, labels within the model's classes): :mod:`tinycnn.training.inputs`.
- Ctrl-C (SIGINT) during ``fit`` finishes the current batch, writes a checkpoint there (when
  ``checkpoint`` is given) and raises :class:`TrainingInterrupted` (a ``KeyboardInterrupt``)
  whose message says where the checkpoint is. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tinycnn.layers.base import Array
from tinycnn.protocol import Model
from tinycnn.training import inputs
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import Callback
from tinycnn.training.errors import NonFiniteLossError, TrainingError, TrainingInterrupted
from tinycnn.training.history import History
from tinycnn.training.inference import batch_logits, evaluate_arrays
from tinycnn.training.progress import Progress
from tinycnn.training.run import FitOptions, Run, positive_int

__all__ = [
    "NonFiniteLossError",
    "TrainingError",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "predict",
    "predict_classes",
]


def fit(
    model: Model,
    x: Array,
    y: np.ndarray,
    epochs: int = 1,
    batch_size: int = 64,
    validation_split: float = 0.0,
    validation_data: tuple[Array, np.ndarray] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    callbacks: Iterable[Callback] = (),
    verbose: int = 1,
    augment: bool | Augmenter | None = None,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    stream: Any = None,
) -> History:
    """Train a compiled model with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        Built and compiled (``model.compile(optimizer, loss)``).
    x : ndarray, shape (N, H, W, C)
        Floating-point inputs (scale uint8 pixels first).
    y : ndarray, shape (N,) of int labels or (N, K) one-hot
    epochs : int
        Total number of epochs (a resumed run counts the epochs already done).
    batch_size : int
        B; the last batch of an epoch holds the remainder.
    validation_split : float
        Fraction of ``(x, y)`` held out for validation, stratified by class and drawn with
        ``seed``; never taken from any other data. Exclusive with ``validation_data``.
    validation_data : (x_val, y_val), optional
        Explicit validation set.
    shuffle : bool
        Visit the training examples in a new random order every epoch.
    seed : int, optional
        Seeds the split, shuffling and augmentation (see the module docstring).
    callbacks : iterable of Callback
    verbose : {0, 1, 2}
        0 silent, 1 progress bar on a terminal (plain lines otherwise), 2 one line per epoch.
    augment : bool or Augmenter, optional
        Random shifts/rotations per training batch; True means ``Augmenter()``.
    checkpoint : str or Path, optional
        Write a training checkpoint there after every epoch and on Ctrl-C.
    resume : str or Path, optional
        Continue from this checkpoint (same data, batch size, seed and split required).
    stream : text stream, optional
        Where progress goes (default ``sys.stdout``).

    Returns
    -------
    History
        ``history.history["loss" | "accuracy" | "val_loss" | "val_accuracy"]`` per epoch.

    Raises
    ------
    ValueError
        Bad arguments, or a checkpoint that does not match this run.
    NonFiniteLossError
        The loss became NaN/inf (weights are rolled back to the last good ones).
    TrainingInterrupted
        Ctrl-C; the message says where the checkpoint is.
    """
    options = FitOptions(
        epochs=epochs, batch_size=batch_size, validation_split=validation_split,
        validation_data=validation_data, shuffle=shuffle, seed=seed, callbacks=callbacks,
        verbose=verbose, augment=augment, checkpoint=checkpoint, resume=resume, stream=stream,
    )  # fmt: skip
    run = Run.prepare(model, x, y, options)
    with model.runtime.applied(), run:  # threads: tinycnn.runtime
        for epoch in run.epochs():
            for xb, yb in run.batches(epoch):
                logits = model.forward(xb, training=True, logits=True)  # (B, K), pre-softmax
                loss = model.loss.forward(logits, yb)  # the batch mean
                run.check_loss(loss)  # NaN or inf: back to the last good weights, and stop
                model.backward(model.loss.backward())  # fills every layer's grads
                triples = model.params_and_grads()  # [(name, param, grad), ...]
                run.check_gradients()  # NaN or inf: stop before the update reaches the weights
                model.optimizer.update([p for _, p, _ in triples], [g for _, _, g in triples])
                run.check_weights()  # an update that overflowed: back to a finite snapshot
                run.batch_end(loss, logits)  # metrics, progress, callbacks, Ctrl-C
            run.epoch_end()  # validation, history, callbacks, checkpoint
    return run.history


def predict(model: Model, x: Array, batch_size: int = 256) -> Array:
    """Class probabilities for every example, computed in batches (inference mode).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
        Floating-point inputs.
    batch_size : int

    Returns
    -------
    p : ndarray, shape (N, K)
        ``softmax(logits)``, each row sums to 1 (also for a model without a final softmax).
    """
    from tinycnn.layers.softmax import softmax

    x = inputs.check_inputs(model, x)
    batch_size = positive_int("batch_size", batch_size)
    with model.runtime.applied():
        return np.concatenate([softmax(logits) for logits in batch_logits(model, x, batch_size)])


def predict_classes(model: Model, x: Array, batch_size: int = 256) -> NDArray[np.int64]:
    """The most probable class of every example, shape (N,)."""
    x = inputs.check_inputs(model, x)
    batch_size = positive_int("batch_size", batch_size)
    with model.runtime.applied():
        out = [np.argmax(logits, axis=1) for logits in batch_logits(model, x, batch_size)]
    return np.concatenate(out).astype(np.int64) if out else np.empty(0, dtype=np.int64)


def evaluate(
    model: Model,
    x: Array,
    y: np.ndarray,
    batch_size: int = 256,
    verbose: int = 0,
    return_dict: bool = False,
    stream: Any = None,
) -> list[float] | dict[str, float]:
    """Mean loss and accuracy on ``(x, y)`` in inference mode.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    y : ndarray, shape (N,) of int labels or (N, K) one-hot
    batch_size : int
    verbose : {0, 1, 2}
        Print one Keras-style line (``313/313 - 1.2s - loss: ... - accuracy: ...``).
    return_dict : bool
        Return ``{"loss": ..., "accuracy": ...}`` instead of ``[loss, accuracy]`` (Keras's order).
    stream : text stream, optional
        Where progress goes (default ``sys.stdout``).
    """
    x, y = inputs.check_xy(model, x, y)
    batch_size = positive_int("batch_size", batch_size)
    progress = Progress(verbose, stream)
    progress.begin(-(-x.shape[0] // batch_size))
    with model.runtime.applied():
        logs = evaluate_arrays(model, x, y, batch_size)
    progress.end(logs)
    return logs if return_dict else [logs["loss"], logs["accuracy"]]
