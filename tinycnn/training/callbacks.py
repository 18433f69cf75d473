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

A callback whose state must survive a resume (ReduceLROnPlateau: its best value and counters)
returns it from ``get_state`` (JSON-serialisable); training checkpoints keep it and a resumed
``fit`` hands it back with ``set_state`` before ``on_train_begin``. The others (EarlyStopping's
patience counter, for instance) start afresh after a resume.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinycnn.optim import checks
from tinycnn.protocol import Model
from tinycnn.training.history import resolve_mode

Logs = dict[str, float]


class Callback:
    """Base class; every hook does nothing. ``self.model`` is set by ``fit`` before training."""

    def __init__(self) -> None:
        self.model: Model = None  # type: ignore[assignment]  # set before any hook runs

    def set_model(self, model: Model) -> None:
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

    def get_state(self) -> dict[str, Any]:
        """What a training checkpoint keeps of this callback (JSON-serialisable; none here)."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back ``get_state``'s dict when a run resumes (before ``on_train_begin``)."""


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
        owner = "EarlyStopping"
        self.monitor = _monitor_name(owner, monitor)
        self.patience = checks.count(owner, "patience", patience)
        self.restore_best_weights = checks.flag(owner, "restore_best_weights", restore_best_weights)
        self.min_delta = checks.number(owner, "min_delta", min_delta)  # its size counts (Keras)
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
        self.save_best_only = checks.flag("ModelCheckpoint", "save_best_only", save_best_only)
        self.monitor = _monitor_name("ModelCheckpoint", monitor)
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


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a metric has stopped improving (Keras's rule).

    After each epoch: an improvement (by more than ``min_delta``) resets the wait; otherwise,
    outside a cool-down, the wait grows, and at ``patience`` epochs the rate becomes
    ``max(lr * factor, min_lr)`` (if it is above ``min_lr``), the wait restarts and a cool-down of
    ``cooldown`` epochs begins, during which the wait stays at 0. Each epoch's ``logs`` gain
    ``"learning_rate"``, the rate the epoch used (for the callbacks after this one).

    Parameters
    ----------
    monitor : str
    factor : float
        In (0, 1).
    patience : int
        Epochs without improvement before a reduction (an integer >= 0).
    mode : {"auto", "min", "max"}
    min_delta : float
        Finite, >= 0.
    cooldown : int
        An integer >= 0.
    min_lr : float
        Finite, >= 0.

    Raises
    ------
    ValueError
        For any argument out of its range (NaN, infinite, negative, fractional counts); when it
        would reduce the rate of an optimizer that follows a learning-rate schedule (such a
        rate cannot be set).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        owner = "ReduceLROnPlateau"
        self.monitor = _monitor_name(owner, monitor)
        self.factor = checks.number(
            owner, "factor", factor, low=0, high=1, low_open=True, high_open=True
        )
        self.patience = checks.count(owner, "patience", patience)
        self.mode = mode
        self.min_delta = checks.number(owner, "min_delta", min_delta, low=0)
        self.cooldown = checks.count(owner, "cooldown", cooldown)
        self.min_lr = checks.number(owner, "min_lr", min_lr, low=0)
        self._restored: dict[str, Any] | None = None
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._tracker = _Monitor("ReduceLROnPlateau", self.monitor, self.mode, self.min_delta)
        self.wait, self.cooldown_counter = 0, 0
        if self._restored is not None:
            self._tracker.best = float(self._restored["best"])
            self.wait = int(self._restored["wait"])
            self.cooldown_counter = int(self._restored["cooldown_counter"])
            self._restored = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.learning_rate
        current = self._tracker.value(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._tracker.improved(current):
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.learning_rate > self.min_lr:
                optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
                self.cooldown_counter = self.cooldown
                self.wait = 0

    @property
    def best(self) -> float:
        return self._tracker.best

    def get_state(self) -> dict[str, Any]:
        """``{"best", "wait", "cooldown_counter"}``; the rate itself is the optimizer's state."""
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state: dict[str, Any]) -> None:
        """Keep ``state`` for the next ``on_train_begin`` (a resumed ``fit``), after checking it."""
        owner = "ReduceLROnPlateau state"
        if not isinstance(state, dict):
            raise ValueError(f"{owner} must be a dict, got {str(state)[:80]}")
        best = state.get("best")
        if not (isinstance(best, (int, float)) and not isinstance(best, bool) and best == best):
            raise ValueError(f"{owner}: best must be a number, got {best!r}")
        self._restored = {
            "best": float(best),
            "wait": checks.count(owner, "wait", state.get("wait")),
            "cooldown_counter": checks.count(
                owner, "cooldown_counter", state.get("cooldown_counter")
            ),
        }


def _monitor_name(owner: str, monitor: Any) -> str:
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"{owner}: monitor must be a metric name, got {monitor!r}")
    return monitor


def callback_states(callbacks: list[Callback]) -> list[dict[str, Any]]:
    """``[{"class_name", "state"}, ...]``, each callback's ``get_state``, for a checkpoint."""
    return [{"class_name": type(cb).__name__, "state": cb.get_state()} for cb in callbacks]


def restore_callback_states(callbacks: list[Callback], saved: list[dict[str, Any]]) -> None:
    """Give each callback its saved state, matched by position and class name."""
    for callback, entry in zip(callbacks, saved, strict=False):
        if entry.get("class_name") == type(callback).__name__ and entry.get("state"):
            callback.set_state(entry["state"])
