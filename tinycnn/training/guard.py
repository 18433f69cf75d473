"""Training never keeps non-finite weights: a check around every optimizer update.

A NaN or an infinity in the weights spreads to every prediction, and a model or checkpoint saved
with one is ruined. Looking at the loss is not enough: a loss computed from finite logits can be
finite while the gradients are not (an ``inf`` input times a zero weight is NaN in backward), and
a finite gradient can still overflow in the update (SGD with a huge learning rate). So the loop
calls, each step::

    guard.check_gradients(epoch, batch, history)  # before optimizer.update
    model.optimizer.update(params, grads)
    guard.check_weights(epoch, batch, history)    # after it

- ``check_gradients`` refuses a non-finite gradient *before* it is applied: the update is skipped,
  so the weights (and the optimizer's state) stay exactly those of the previous step, which
  ``check_weights`` found finite. This is the usual case (a NaN or inf input, an exploding loss).
- ``check_weights`` catches an update that overflowed from finite gradients (Adam or SGD with
  a huge learning rate). The weights go back to the state before that update when the guard
  kept a copy of it, which it does only for a *risky* update: a gradient of norm over
  ``RISKY_NORM``, or weights of norm over ``RISKY_NORM ** 2`` after the previous step (healthy
  training never comes near either). Otherwise they go back to the latest *snapshot*, a copy
  taken when the guard was made and then every ``snapshot_every`` finite steps; the message
  says which state the model holds.

Either way :class:`~tinycnn.training.run.NonFiniteLossError` is raised, naming the epoch, the
batch and the first offending parameter (``layer/key``), and nothing is saved after it.

Cost
----
Per step, one ``np.vdot(a, a)`` (a squared norm: NaN or inf exactly when an element is, or when
it overflows, which then falls back to an exact ``np.isfinite``) over every gradient and every
parameter: no copies, two reads of the parameters, small beside the forward and backward passes
over a batch. Every ``snapshot_every`` steps (default 100), one copy of the weights and the
optimizer state; one more before each risky update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinycnn.protocol import Model
from tinycnn.training.errors import NonFiniteLossError

SNAPSHOT_EVERY = 100
RISKY_NORM = 1e6  # a gradient norm above this (or weights above its square) may overflow


def squared_norm(array: np.ndarray) -> float:
    """``sum(array ** 2)`` without a temporary; NaN or inf if an element is, or on overflow.

    ``np.vdot`` is a BLAS dot product: one read of the array, and no floating-point warnings.
    """
    return float(np.vdot(array, array))


def is_finite(array: np.ndarray, squared: float) -> bool:
    """Whether every element is finite, given the array's :func:`squared_norm`."""
    return math.isfinite(squared) or bool(np.isfinite(array).all())


class FiniteGuard:
    """Checks each update of ``model`` and restores a finite state when one goes wrong.

    Parameters
    ----------
    model : Sequential
        Built and compiled; its ``params_and_grads()`` and ``optimizer`` are used.
    epochs, steps : int
        The run's number of epochs and of batches per epoch, for the messages.
    snapshot_every : int
        Finite steps between two snapshots (see the module docstring for the cost).
    note : callable, optional
        Called only when training stops; its text (e.g. what became of the checkpoint file) is
        added to the message.
    """

    def __init__(
        self,
        model: Model,
        epochs: int,
        steps: int,
        snapshot_every: int = SNAPSHOT_EVERY,
        note: Callable[[], str] = str,
    ) -> None:
        self.model = model
        self.note = note
        self.epochs, self.steps = epochs, steps
        self.snapshot_every = snapshot_every
        self.finite_steps = 0
        self.risky_weights = False
        self.before_update: tuple[list[np.ndarray], dict] | None = None
        self.snapshot = self._copy()
        self.snapshot_where = "the start of this fit call"

    def _copy(self) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        params = [p.copy() for _, p, _ in self.model.params_and_grads()]
        return params, self.model.optimizer.get_state()

    def check_gradients(self, epoch: int, batch: int, history: Any = None) -> None:
        """Raise before the update if a gradient is not finite (the weights are untouched);
        keep a copy of the weights if the update is risky. ``epoch``, ``batch`` are 0-based."""
        risky = self.risky_weights
        for name, _, g in self.model.params_and_grads():
            squared = squared_norm(g)
            if not is_finite(g, squared):
                self._stop(
                    f"the gradient of {name} is NaN or infinite",
                    "the update was not applied: the model keeps the weights of the previous "
                    "step, which were finite",
                    epoch,
                    batch,
                    history,
                )
            risky = risky or not squared <= RISKY_NORM**2
        self.before_update = self._copy() if risky else None

    def check_weights(self, epoch: int, batch: int, history: Any = None) -> None:
        """After the update: raise, back at a finite state, if a weight is not finite."""
        largest = 0.0
        for name, p, _ in self.model.params_and_grads():
            squared = squared_norm(p)
            if not is_finite(p, squared):
                self._restore_and_stop(name, epoch, batch, history)
            largest = max(largest, squared)
        self.risky_weights = not largest <= RISKY_NORM**4
        self.finite_steps += 1
        if self.finite_steps % self.snapshot_every == 0:
            self.snapshot = self._copy()
            self.snapshot_where = f"the end of epoch {epoch + 1}, batch {batch + 1}"

    def _restore_and_stop(self, name: str, epoch: int, batch: int, history: Any) -> None:
        if self.before_update is not None:
            params, state = self.before_update
            kept = "the weights and optimizer state went back to those before this update"
        else:
            params, state = self.snapshot
            kept = (
                "the weights and optimizer state went back to the latest finite snapshot, "
                f"taken at {self.snapshot_where}"
            )
        for (_, p, _), saved in zip(self.model.params_and_grads(), params, strict=True):
            np.copyto(p, saved)
        self.model.optimizer.set_state(state)
        what = f"the update made {name} NaN or infinite (an overflow: try a lower learning rate)"
        self._stop(what, kept, epoch, batch, history)

    def _stop(self, what: str, kept: str, epoch: int, batch: int, history: Any) -> None:

        if history is not None:
            history.stopped = "non_finite_update"
        raise NonFiniteLossError(
            f"{what} at epoch {epoch + 1}/{self.epochs}, batch {batch + 1}/{self.steps}: "
            f"training stopped; {kept}{self.note()}. Nothing is saved after this point. Check "
            "the inputs for NaN or unscaled values.",
            epoch + 1,
            batch + 1,
            history,
        )
