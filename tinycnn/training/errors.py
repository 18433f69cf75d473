"""The exceptions that stop ``fit``: a training error, a non-finite loss or update, Ctrl-C."""

from __future__ import annotations

from tinycnn.training.history import History


class TrainingError(RuntimeError):
    """Training could not continue; ``history`` holds what was recorded until then."""

    def __init__(self, message: str, history: History | None = None) -> None:
        super().__init__(message)
        self.history = history


class NonFiniteLossError(TrainingError, FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` and ``batch`` are 1-based."""

    def __init__(self, message: str, epoch: int, batch: int, history: History) -> None:
        super().__init__(message, history)
        self.epoch = epoch
        self.batch = batch


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``fit`` after a batch; ``checkpoint`` is where the state was saved."""

    def __init__(self, message: str, checkpoint: str | None, history: History) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.history = history

    def __str__(self) -> str:
        return str(self.args[0])
