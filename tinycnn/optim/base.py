"""What every optimizer shares: a step counter, per-parameter state, checks, save/restore.

An optimizer turns gradients into parameter updates. It keeps *state* between steps (Adam's
moving averages, SGD's velocity), one array per parameter tensor, matched to the parameters by
their *position* in the list given to ``update``: pass the same list, in the same order, every
step (``Sequential.params_and_grads`` does).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinycnn.layers.base import Array
from tinycnn.optim import checks
from tinycnn.optim.schedules import LearningRateSchedule, get_schedule, serialize


class Optimizer:
    """Base class: subclasses name their state arrays and define ``_step``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or dict
        Step size, or a schedule evaluated at ``iterations`` before each update (a dict is a
        saved schedule, see ``tinycnn.optim.schedules``). A float may be changed between steps
        (e.g. by ``ReduceLROnPlateau``).
    slot_names : tuple of str
        Names of the per-parameter state arrays, e.g. ``("m", "v")`` for Adam.

    Attributes
    ----------
    iterations : int
        Number of ``update`` calls so far (Keras's ``optimizer.iterations``).
    learning_rate : float
        The rate the next update uses (a schedule's value at ``iterations``).
    current_lr : float
        The rate of the update in progress (read by ``_step``).
    slots : dict of str to list of ndarray
        Per-parameter state, e.g. ``slots["m"][i]`` is shaped like ``params[i]``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule | dict[str, Any],
        slot_names: tuple[str, ...] = (),
    ) -> None:
        self._learning_rate: float | LearningRateSchedule
        if isinstance(learning_rate, (LearningRateSchedule, dict)):
            self._learning_rate = get_schedule(learning_rate)
        else:
            self._learning_rate = checks.number(
                type(self).__name__, "learning_rate", learning_rate, low=0, low_open=True
            )
        self.current_lr = 0.0  # set by each update
        self.slot_names = slot_names
        self.iterations = 0
        self.slots: dict[str, list[Array]] = {}

    @property
    def learning_rate(self) -> float:
        """The rate of the next update: the float given, or the schedule at ``iterations``."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise ValueError(
                f"this optimizer follows the schedule {self._learning_rate!r}; its learning "
                "rate cannot be set"
            )
        self._learning_rate = checks.number(
            type(self).__name__, "learning_rate", value, low=0, low_open=True
        )

    @property
    def schedule(self) -> LearningRateSchedule | None:
        """The learning-rate schedule, or None for a fixed (settable) rate."""
        lr = self._learning_rate
        return lr if isinstance(lr, LearningRateSchedule) else None

    def update(self, params: list[Array], grads: list[Array]) -> None:
        """Update every array of ``params`` in place from the matching array of ``grads``.

        Parameters
        ----------
        params : list of ndarray
            Parameter tensors (float32 or float64), modified in place; their dtype is kept.
        grads : list of ndarray
            ∂loss/∂param, one per parameter, same shapes.

        Raises
        ------
        ValueError
            If the lists differ in length or shapes, or do not match the state from earlier steps.
        """
        self._check(params, grads)
        if not self.slots:
            self.slots = {s: [np.zeros_like(p) for p in params] for s in self.slot_names}
        self.current_lr = self._checked_rate()  # the value at the step count before it
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self._step(i, p, np.asarray(g))

    def _checked_rate(self) -> float:
        """The rate of this step; a schedule's value must be a finite number >= 0."""
        rate = self.learning_rate
        if self.schedule is not None and not (
            isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0
        ):
            raise ValueError(
                f"the learning-rate schedule {self.schedule!r} returned {rate!r} at step "
                f"{self.iterations}; a rate must be a finite number >= 0 (a negative rate "
                "climbs the loss)"
            )
        return float(rate)

    def _step(self, i: int, p: Array, g: Array) -> None:
        """Update the ``i``-th parameter ``p`` in place from its gradient ``g``."""
        raise NotImplementedError

    def _check(self, params: list[Array], grads: list[Array]) -> None:
        if len(params) != len(grads):
            raise ValueError(
                f"expected one gradient per parameter ({len(params)}), got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if np.shape(g) != p.shape:
                raise ValueError(f"gradient {i}: expected shape {p.shape}, got {np.shape(g)}")
        for name, arrays in self.slots.items():
            shapes = [a.shape for a in arrays]
            if shapes != [p.shape for p in params]:
                raise ValueError(
                    f"optimizer state {name!r} was made for parameter shapes {shapes}, "
                    f"got {[p.shape for p in params]}"
                )

    # -- saving and restoring -------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Step count, a fixed learning rate and state arrays as plain arrays (fits in an ``.npz``).

        Returns
        -------
        dict of str to ndarray
            ``"iterations"`` (a 0-d int64 array), ``"learning_rate"`` (0-d float64, unless a
            schedule sets it) and ``"<slot>_<i>"`` copies, e.g. ``"m_0"``.
        """
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        if self.schedule is None:  # a callback may have changed it since compile
            state["learning_rate"] = np.array(self.learning_rate, dtype=np.float64)
        for name, arrays in self.slots.items():
            for i, a in enumerate(arrays):
                state[f"{name}_{i}"] = a.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``get_state`` returned (copies are taken)."""
        owner = f"{type(self).__name__} state"
        self.iterations = checks.count(owner, "iterations", _scalar(state["iterations"]))
        if "learning_rate" in state and self.schedule is None:
            self.learning_rate = checks.number(
                owner, "learning_rate", _scalar(state["learning_rate"]), low=0, low_open=True
            )
        self.slots = {}
        for name in self.slot_names:
            count = sum(1 for key in state if key.rsplit("_", 1)[0] == name)
            if count:
                self.slots[name] = [np.array(state[f"{name}_{i}"]) for i in range(count)]

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer with ``type(opt)(**config)``."""
        schedule = self.schedule
        return {"learning_rate": self.learning_rate if schedule is None else serialize(schedule)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _scalar(value: Any) -> Any:
    """A 0-d array's Python number (anything else as it is, for the checks to refuse)."""
    array = np.asarray(value)
    return array.item() if array.shape == () and array.dtype.kind in "iuf" else value
