"""What runs when a model computes: the backend of the kernels and the plan of the steps.

Two independent choices, and nothing else, decide it:

- **backend** (``"numpy"`` or ``"numba"``): which twin of each kernel (im2col, col2im, pooling,
  ReLU, the Adam update) the layers call. Both give bit-identical numbers. Chosen process-wide
  by :func:`tinycnn.config.set_backend` or, for a test suite, ``TINYCNN_BACKEND``; the default
  is ``"numba"`` when Numba imports.
- **plan** (``"eager"`` or ``"jit_compile"``): eager, the default, runs every layer's own
  ``forward`` and ``backward``; ``model.compile(..., jit_compile=True)`` runs each
  ``Conv2D(relu)`` + ``MaxPool2D`` pair as a fused step (:mod:`tinycnn.fast.plan`), faster and
  equal to float32 rounding. It belongs to the compiled model, not to the process, and is not
  saved with it. The fused steps need Numba: on the NumPy backend a ``jit_compile`` model runs
  eager and says so.

Examples
--------
>>> from tinycnn.runtime import Runtime
>>> Runtime("numba", jit_compile=False).describe()
'eager on the numba backend: every layer runs its own forward and backward'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tinycnn import config
from tinycnn.layers.base import Layer

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    """How a model runs: ``backend`` ("numpy" | "numba") and ``jit_compile`` (False | True)."""

    backend: str
    jit_compile: bool = False

    @classmethod
    def current(cls, jit_compile: bool = False) -> Runtime:
        """The active backend (``tinycnn.config.get_backend()``) with ``jit_compile``."""
        return cls(config.get_backend(), bool(jit_compile))

    @property
    def fused(self) -> bool:
        """Whether fused steps run: asked for with ``jit_compile`` and possible (Numba)."""
        return self.jit_compile and self.backend == "numba"

    def steps(self, layers: Sequence[Layer]) -> list[Any]:
        """What runs ``layers``: the layers themselves, or the fused plan of ``jit_compile``."""
        if not self.fused:
            return list(layers)
        from tinycnn.fast.plan import plan  # imports Numba: only when asked for

        return plan(layers)

    def describe(self, steps: Sequence[Any] = ()) -> str:
        """One line for ``summary()`` and the start of ``fit``."""
        if not self.fused:
            note = " (jit_compile needs the numba backend)" if self.jit_compile else ""
            return (
                f"eager on the {self.backend} backend{note}: "
                "every layer runs its own forward and backward"
            )
        from tinycnn.fast.plan import describe

        fused = describe(steps)
        pairs = "; ".join(fused) if fused else "no Conv2D(relu) + MaxPool2D pair to fuse"
        return f"jit_compile on the numba backend: {pairs}; other layers run as themselves"
