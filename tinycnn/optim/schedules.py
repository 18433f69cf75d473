"""Learning-rate schedules in the Keras style: ``lr = schedule(step)``.

A schedule given as ``learning_rate`` to ``SGD`` or ``Adam`` is evaluated at the optimizer's
step count before each update: the first update uses ``schedule(0)``, the ``k``-th
``schedule(k - 1)``, as ``keras.optimizers`` does with ``optimizer.iterations``. A step is one
batch, so ``decay_steps = epochs * steps_per_epoch`` spans a whole run.

Notes
-----
With ``lr0`` the initial rate and ``t`` the step::

    ExponentialDecay         lr = lr0 * rate ** (t / decay_steps)   (staircase: floor the power)
    PiecewiseConstantDecay   lr = values[i] for boundaries[i-1] < t <= boundaries[i]
    CosineDecay              warm-up (t < W, only with warmup_target):
                                 lr = lr0 + (target - lr0) * t / W
                             then, with u = min(t - W, D) / D and top = target (or lr0):
                                 lr = top * ((1 - alpha) * 0.5 * (1 + cos(π u)) + alpha)

These follow ``keras.optimizers.schedules`` (Keras 3), whose values they match in float32
(``tests/reference``); ``get_config`` and ``get_schedule`` save and rebuild them, so a schedule
travels in the model file with its optimizer.
"""

from __future__ import annotations

import math
from typing import Any


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float`` and a configuration that rebuilds it."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Arguments that rebuild the schedule with ``type(schedule)(**config)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    """``lr0 * decay_rate ** (step / decay_steps)``; with ``staircase`` the power is floored.

    Parameters
    ----------
    initial_learning_rate : float
    decay_steps : int
        Steps over which the rate is multiplied by ``decay_rate`` once.
    decay_rate : float
    staircase : bool
        Decay in whole steps of ``decay_steps`` (a step decay) instead of smoothly.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = float(
            _positive("initial_learning_rate", initial_learning_rate)
        )
        self.decay_steps = int(_positive("decay_steps", decay_steps))
        self.decay_rate = float(_positive("decay_rate", decay_rate))
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        power = step / self.decay_steps
        if self.staircase:
            power = math.floor(power)
        return self.initial_learning_rate * self.decay_rate**power

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate between step boundaries: ``values[i]`` for ``b[i-1] < step <= b[i]``.

    Parameters
    ----------
    boundaries : list of int
        Increasing step numbers, one fewer than ``values``.
    values : list of float
    """

    def __init__(self, boundaries: list[int], values: list[float]) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"expected {len(boundaries) + 1} values for {len(boundaries)} boundaries, "
                f"got {len(values)}"
            )
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"boundaries must increase, got {list(boundaries)}")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(_positive("each value", v)) for v in values]

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values}


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the top rate down to ``alpha`` times it, after an optional warm-up.

    Parameters
    ----------
    initial_learning_rate : float
        Start of the warm-up, or the top rate when there is none.
    decay_steps : int
        Length of the cosine (after the warm-up); the rate stays at its end value afterwards.
    alpha : float
        Final rate as a fraction of the top rate.
    warmup_target : float, optional
        Top rate reached linearly from ``initial_learning_rate`` in ``warmup_steps`` steps.
    warmup_steps : int
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        if initial_learning_rate < 0:
            raise ValueError(f"initial_learning_rate must be >= 0, got {initial_learning_rate!r}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(_positive("decay_steps", decay_steps))
        self.alpha = float(alpha)
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: int) -> float:
        top, t = self.initial_learning_rate, float(step)
        if self.warmup_target is not None:
            if t < self.warmup_steps:
                fraction = t / self.warmup_steps
                return (self.warmup_target - top) * fraction + top
            top, t = self.warmup_target, t - self.warmup_steps
        fraction = min(t, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return top * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-serialisable (as in a model file)."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def get_schedule(spec: LearningRateSchedule | dict[str, Any]) -> LearningRateSchedule:
    """A schedule object from itself or from ``serialize``'s dict.

    Raises
    ------
    ValueError
        For an unknown class name.
    """
    if isinstance(spec, LearningRateSchedule):
        return spec
    cls = SCHEDULES.get(str(spec.get("class_name")))
    if cls is None:
        raise ValueError(
            f"unknown learning-rate schedule {spec.get('class_name')!r}; expected one of "
            f"{list(SCHEDULES)}"
        )
    return cls(**spec.get("config", {}))
