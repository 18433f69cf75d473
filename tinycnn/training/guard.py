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
- ``check_weights`` catches an update that overflowed from finite gradients. The pre-update
  weights are gone by then, so the model goes back to the latest *snapshot*: a copy of the weights
  and the optimizer state taken when the guard was made and then every ``snapshot_every``
  finite steps (the message says which step it is).

Either way :class:`~tinycnn.train.NonFiniteLossError` is raised, naming the epoch, the batch and
the first offending parameter (``layer/key``), and nothing is saved after it.

Cost
----
Per step, one ``np.sum`` over every gradient and one over every parameter (a sum is finite
exactly when all its terms are, barring overflow of the sum itself, which falls back to a full
``np.isfinite``): no copies, about two reads of the parameters, small beside the forward and
backward passes over a batch (``tests/benchmarks/bench_guard.py`` measures it). Every
``snapshot_every`` steps (default 100), one copy of the weights and the optimizer state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SNAPSHOT_EVERY = 100


def first_non_finite(named_arrays: list[tuple[str, np.ndarray]]) -> str | None:
    """The name of the first array holding a NaN or an infinity, or None.

    Cheap: one sum per array; only a sum that is not finite leads to the exact, slower test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for name, array in named_arrays:
            if not np.isfinite(np.sum(array)) and not np.isfinite(array).all():
                return name
    return None


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
    """

    def __init__(
        self, model: Any, epochs: int, steps: int, snapshot_every: int = SNAPSHOT_EVERY
    ) -> None:
        self.model = model
        self.epochs, self.steps = epochs, steps
        self.snapshot_every = snapshot_every
        self.finite_steps = 0
        self._take_snapshot("the start of this fit call")

    def _take_snapshot(self, where: str) -> None:
        self.snapshot = [p.copy() for _, p, _ in self.model.params_and_grads()]
        self.optimizer_state = self.model.optimizer.get_state()
        self.snapshot_where = where

    def check_gradients(self, epoch: int, batch: int, history: Any = None) -> None:
        """Raise before the update if a gradient is not finite (the weights are untouched).

        ``epoch`` and ``batch`` are 0-based.
        """
        bad = first_non_finite([(name, g) for name, _, g in self.model.params_and_grads()])
        if bad is not None:
            self._stop(
                f"the gradient of {bad} is NaN or infinite",
                "the update was not applied: the model keeps the weights of the previous step, "
                "which were finite",
                epoch,
                batch,
                history,
            )

    def check_weights(self, epoch: int, batch: int, history: Any = None) -> None:
        """After the update: raise (and restore the latest snapshot) if a weight is not finite."""
        bad = first_non_finite([(name, p) for name, p, _ in self.model.params_and_grads()])
        if bad is None:
            self.finite_steps += 1
            if self.finite_steps % self.snapshot_every == 0:
                self._take_snapshot(f"the end of epoch {epoch + 1}, batch {batch + 1}")
            return
        self._restore()
        self._stop(
            f"the update made {bad} NaN or infinite (an overflow: try a lower learning rate)",
            "the weights and optimizer state went back to the latest finite snapshot, taken "
            f"at {self.snapshot_where}",
            epoch,
            batch,
            history,
        )

    def _restore(self) -> None:
        for (_, p, _), saved in zip(self.model.params_and_grads(), self.snapshot, strict=True):
            np.copyto(p, saved)
        self.model.optimizer.set_state(self.optimizer_state)

    def _stop(self, what: str, kept: str, epoch: int, batch: int, history: Any) -> None:
        from tinycnn.train import NonFiniteLossError

        if history is not None:
            history.stopped = "non_finite_update"
        raise NonFiniteLossError(
            f"{what} at epoch {epoch + 1}/{self.epochs}, batch {batch + 1}/{self.steps}: "
            f"training stopped; {kept}. Nothing is saved after this point. Check the inputs "
            "for NaN or unscaled values.",
            epoch + 1,
            batch + 1,
            history,
        )
