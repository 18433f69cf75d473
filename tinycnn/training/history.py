"""The record of a training run returned by ``fit``, shaped like Keras's ``History``.

``history.history`` maps each metric name (``loss``, ``accuracy``, ``val_loss``,
``val_accuracy``) to one value per finished epoch, so ``plt.plot(h.history["val_loss"])`` works
as in Keras. ``history.epoch`` lists the epoch numbers (0-based, as Keras), ``history.times`` the
seconds each epoch took, and ``history.params`` the settings of the run (epochs, batch size,
steps per epoch, seed, sample counts).
"""

from __future__ import annotations

from typing import Any


class History:
    """Per-epoch metrics of one training run.

    Attributes
    ----------
    history : dict of str to list of float
        One list per metric, one value per finished epoch.
    epoch : list of int
        0-based indices of the finished epochs.
    times : list of float
        Wall-clock seconds of each finished epoch.
    params : dict
        Settings of the run, e.g. ``{"epochs": 10, "batch_size": 64, "steps": 844, "seed": 0}``.
    stopped : str or None
        Why training ended before ``epochs``: ``"early_stopping"`` (a callback set
        ``model.stop_training``), ``"interrupted"`` or ``"non_finite_loss"``; None otherwise.
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.times: list[float] = []
        self.params: dict[str, Any] = dict(params or {})
        self.stopped: str | None = None

    def append(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        """Record the metrics ``logs`` of the finished epoch ``epoch`` (0-based)."""
        self.epoch.append(int(epoch))
        self.times.append(float(seconds))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """The epoch (0-based) and value where ``monitor`` was best.

        ``mode`` is "min", "max" or "auto" (max for accuracy-like names, min otherwise).
        """
        if monitor not in self.history:
            raise ValueError(f"no metric {monitor!r} in history (have: {', '.join(self.history)})")
        values = self.history[monitor]
        pick = max if resolve_mode(monitor, mode) == "max" else min
        i = pick(range(len(values)), key=values.__getitem__)
        return self.epoch[i], values[i]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (used by checkpoints)."""
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "times": list(self.times),
            "params": dict(self.params),
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History written by ``to_dict``."""
        h = cls(data.get("params"))
        h.history = {k: [float(x) for x in v] for k, v in data.get("history", {}).items()}
        h.epoch = [int(e) for e in data.get("epoch", [])]
        h.times = [float(t) for t in data.get("times", [])]
        h.stopped = data.get("stopped")
        return h

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def resolve_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' for ``monitor``; "auto" means max for accuracy-like names (Keras's rule)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith(("f1", "precision", "recall"))) else "min"
