"""Test your own layers the way tinycnn tests its own.

- Hypothesis strategies for *configurations* (``tinycnn.testing.strategies``): ``conv_configs``,
  ``pool_configs`` (``ties=True`` forces equal values in a window), ``images``, and
  ``make_input`` for contiguous or non-contiguous NHWC inputs.
- ``assert_gradients(layer, x, ...)``: a float64 gradient check that raises ``AssertionError``
  with the per-tensor report.
- The kink hook: a layer with a ``decision_state()`` method tells the gradient check where it is
  not differentiable (see ``tinycnn.testing.gradients``).

Needs ``hypothesis`` (a dependency of tinycnn), imported when a strategy is first used. The docs
page "Check your own layer" walks through a LeakyReLU and an AvgPool2D.
"""

from typing import Any

from tinycnn.testing.gradients import assert_gradients

__all__ = [
    "LAYOUTS",
    "ConvConfig",
    "PoolConfig",
    "assert_gradients",
    "conv_configs",
    "images",
    "make_input",
    "pool_configs",
]
STRATEGIES = (
    "LAYOUTS",
    "ConvConfig",
    "PoolConfig",
    "conv_configs",
    "images",
    "make_input",
    "pool_configs",
)


def __getattr__(name: str) -> Any:
    """The strategies, imported on first use, so that ``import tinycnn`` (which imports the
    gradient check from this package) does not import hypothesis."""
    if name in STRATEGIES:
        from tinycnn.testing import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
