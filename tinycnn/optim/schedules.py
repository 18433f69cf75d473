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

import inspect
import math
from typing import Any

from tinycnn.optim import checks


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float`` and a configuration that rebuilds it."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Arguments that rebuild the schedule with ``type(schedule)(**config)``: each argument
        of the class's ``__init__``, read from the attribute of the same name (as checked)."""
        arguments = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in arguments if name != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``lr0 * decay_rate ** (step / decay_steps)``; with ``staircase`` the power is floored.

    Parameters
    ----------
    initial_learning_rate : float
        Finite, > 0.
    decay_steps : float
        Steps over which the rate is multiplied by ``decay_rate`` once (finite, > 0; a
        fraction such as 2.7 is kept, as Keras does).
    decay_rate : float
        Finite, > 0.
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
        owner = "ExponentialDecay"
        self.initial_learning_rate = checks.number(
            owner, "initial_learning_rate", initial_learning_rate, low=0, low_open=True
        )
        self.decay_steps = checks.steps(owner, "decay_steps", decay_steps)
        self.decay_rate = checks.number(owner, "decay_rate", decay_rate, low=0, low_open=True)
        self.staircase = checks.flag(owner, "staircase", staircase)

    def __call__(self, step: int) -> float:
        power = step / self.decay_steps
        if self.staircase:
            power = math.floor(power)
        return self.initial_learning_rate * self.decay_rate**power


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate between step boundaries: ``values[i]`` for ``b[i-1] < step <= b[i]``.

    Parameters
    ----------
    boundaries : list of int
        Increasing step numbers (integers >= 0), one fewer than ``values``.
    values : list of float
        Finite rates > 0.
    """

    def __init__(self, boundaries: list[int], values: list[float]) -> None:
        owner = "PiecewiseConstantDecay"
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(f"{owner}: boundaries and values must be lists")
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"{owner}: expected {len(boundaries) + 1} values for {len(boundaries)} "
                f"boundaries, got {len(values)}"
            )
        self.boundaries = [checks.count(owner, "each boundary", b) for b in boundaries]
        if self.boundaries != sorted(self.boundaries):
            raise ValueError(f"{owner}: boundaries must increase, got {list(boundaries)}")
        self.values = [checks.number(owner, "each value", v, low=0, low_open=True) for v in values]

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return value
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the top rate down to ``alpha`` times it, after an optional warm-up.

    Parameters
    ----------
    initial_learning_rate : float
        Start of the warm-up (finite, >= 0), or the top rate when there is none (> 0: a top
        rate of 0 would never move a weight).
    decay_steps : float
        Length of the cosine (after the warm-up, finite, > 0; a fraction is kept, as Keras
        does); the rate stays at its end value afterwards.
    alpha : float
        Final rate as a fraction of the top rate, in [0, 1].
    warmup_target : float, optional
        Top rate (finite, > 0) reached linearly from ``initial_learning_rate`` in
        ``warmup_steps`` steps.
    warmup_steps : int
        An integer >= 0.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        owner = "CosineDecay"
        self.warmup_target = (
            None
            if warmup_target is None
            else checks.number(owner, "warmup_target", warmup_target, low=0, low_open=True)
        )
        self.initial_learning_rate = checks.number(
            owner,
            "initial_learning_rate",
            initial_learning_rate,
            low=0,
            low_open=warmup_target is None,  # without a warm-up it is the top rate
        )
        self.decay_steps = checks.steps(owner, "decay_steps", decay_steps)
        self.alpha = checks.number(owner, "alpha", alpha, low=0, high=1)
        self.warmup_steps = checks.count(owner, "warmup_steps", warmup_steps)

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
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"{cls.__name__}: its config must be a dict, got {config!r:.80}")
    try:
        return cls(**config)
    except TypeError as error:  # an unknown or missing argument
        raise ValueError(f"{cls.__name__}: {error}") from None
