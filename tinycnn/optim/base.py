"""What every optimizer shares: a step counter, per-parameter state, checks, save/restore.

An optimizer turns gradients into parameter updates. It keeps *state* between steps (Adam's
moving averages, SGD's velocity), one array per parameter tensor, matched to the parameters by
their *position* in the list given to ``update``: pass the same list, in the same order, every
step (``Sequential.params_and_grads`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinycnn.layers.base import Array


class Optimizer:
    """Base class: subclasses name their state arrays and define ``_step``.

    Parameters
    ----------
    learning_rate : float
        Step size. May be changed between steps (e.g. by a learning-rate callback).
    slot_names : tuple of str
        Names of the per-parameter state arrays, e.g. ``("m", "v")`` for Adam.

    Attributes
    ----------
    iterations : int
        Number of ``update`` calls so far (Keras's ``optimizer.iterations``).
    slots : dict of str to list of ndarray
        Per-parameter state, e.g. ``slots["m"][i]`` is shaped like ``params[i]``.
    """

    def __init__(self, learning_rate: float, slot_names: tuple[str, ...] = ()) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.slot_names = slot_names
        self.iterations = 0
        self.slots: dict[str, list[Array]] = {}

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
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self._step(i, p, np.asarray(g))

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
        """Step count and state arrays as plain arrays (fits in an ``.npz``).

        Returns
        -------
        dict of str to ndarray
            ``"iterations"`` (a 0-d int64 array) and ``"<slot>_<i>"`` copies, e.g. ``"m_0"``.
        """
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, arrays in self.slots.items():
            for i, a in enumerate(arrays):
                state[f"{name}_{i}"] = a.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``get_state`` returned (copies are taken)."""
        self.iterations = int(state["iterations"])
        self.slots = {}
        for name in self.slot_names:
            count = sum(1 for key in state if key.rsplit("_", 1)[0] == name)
            if count:
                self.slots[name] = [np.array(state[f"{name}_{i}"]) for i in range(count)]

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters that rebuild this optimizer with ``type(opt)(**config)``."""
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
