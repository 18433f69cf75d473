"""Callbacks: code that ``fit`` calls at fixed points of training, as in Keras.

Write your own by subclassing :class:`Callback` and overriding the hooks you need::

    class PrintLR(Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(epoch, self.model.optimizer.learning_rate)

    model.fit(x, y, callbacks=[PrintLR()])

or, for a one-off, pass functions to :class:`LambdaCallback`. Hooks receive ``logs``, a dict of
the metrics known at that point: after a batch ``{"loss", "accuracy"}`` (running means over the
epoch so far); after an epoch also ``val_loss`` and ``val_accuracy`` when there is validation
data. A callback stops training by setting ``self.model.stop_training = True``; ``fit`` finishes
the current epoch and returns.

The callbacks' own state (EarlyStopping's patience counter, for instance) is not part of a training
checkpoint: after a resume it starts afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinycnn.training.history import resolve_mode

Logs = dict[str, float]


class Callback:
    """Base class; every hook does nothing. ``self.model`` is set by ``fit`` before training."""

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        """Called by ``fit`` before ``on_train_begin``."""
        self.model = model

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """After the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """After epoch ``epoch`` (0-based) and its validation; ``logs`` holds its metrics."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """After the optimizer step of batch ``batch`` (0-based within the epoch)."""


class LambdaCallback(Callback):
    """A callback made of plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, l: ...)``.

    Each argument is optional and has the signature of the hook of the same name.
    """

    def __init__(
        self,
        on_train_begin: Callable[..., None] | None = None,
        on_train_end: Callable[..., None] | None = None,
        on_epoch_begin: Callable[..., None] | None = None,
        on_epoch_end: Callable[..., None] | None = None,
        on_batch_end: Callable[..., None] | None = None,
    ) -> None:
        super().__init__()
        hooks = {
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_end": on_batch_end,
        }
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)


class _Monitor:
    """Tracks the best value of a metric; shared by EarlyStopping and ModelCheckpoint."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float) -> None:
        self.owner = owner
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = np.inf if self.mode == "min" else -np.inf

    def value(self, logs: Logs | None) -> float:
        logs = logs or {}
        if self.monitor not in logs:
            have = ", ".join(logs) or "nothing"
            raise ValueError(
                f"{self.owner}: monitor {self.monitor!r} is not among the epoch's metrics "
                f"({have}); give fit validation data or monitor one of those"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        """True (and remember it) when ``value`` beats the best by more than ``min_delta``."""
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return bool(better)


class EarlyStopping(Callback):
    """Stop training when a monitored metric has stopped improving.

    Parameters
    ----------
    monitor : str
        Metric to watch, e.g. "val_loss" (default) or "val_accuracy".
    patience : int
        Training stops after this many epochs in a row without improvement (at least one).
    restore_best_weights : bool
        When training ends (stopped early or not), put back the weights of the best epoch.
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; "auto" means max for accuracy-like names.

    Attributes
    ----------
    best : float
        Best value seen.
    best_epoch : int
        0-based epoch of ``best``.
    stopped_epoch : int or None
        0-based epoch after which training was stopped, None when it ran to the end.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        restore_best_weights: bool = False,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        super().__init__()
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.min_delta = min_delta
        self.mode = mode
        self._tracker = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._tracker = _Monitor("EarlyStopping", self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.best_epoch = -1
        self.stopped_epoch: int | None = None
        self.best_weights = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._tracker.improved(self._tracker.value(logs)):
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras's rule: patience 0 and 1 both stop at once
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``tinycnn.saving.io.save_model``) at the end of epochs.

    Parameters
    ----------
    path : str or Path
        File to write; may contain ``str.format`` fields filled from the epoch's metrics and the
        1-based epoch number, e.g. ``"model-{epoch:02d}-{val_accuracy:.4f}.npz"``.
    save_best_only : bool
        Save only when ``monitor`` improves on the best value so far.
    monitor : str
        Metric compared when ``save_best_only`` is set.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; "auto" means max for accuracy-like names.

    Attributes
    ----------
    saved : list of str
        Every path written, in order.
    """

    def __init__(
        self,
        path: str | Path,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
    ) -> None:
        super().__init__()
        self.path = str(path)
        self.save_best_only = save_best_only
        self.monitor = monitor
        self.mode = mode
        self._tracker = _Monitor("ModelCheckpoint", monitor, mode, 0.0)
        self.saved: list[str] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._tracker = _Monitor("ModelCheckpoint", self.monitor, self.mode, 0.0)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        from tinycnn.saving.io import save_model

        logs = logs or {}
        if self.save_best_only and not self._tracker.improved(self._tracker.value(logs)):
            return
        path = self.path.format(epoch=epoch + 1, **logs)
        save_model(self.model, path)
        self.saved.append(path)
