"""The plan of ``jit_compile=True``: which fused step runs each ``Conv2D(relu)`` + ``MaxPool2D``.

Eager (the default), a model runs each layer's own ``forward`` and ``backward``. Compiled with
``jit_compile=True`` on the Numba backend, :func:`plan` turns the layer list into *steps*: each
pair of a ``Conv2D(activation="relu")`` and the ``MaxPool2D`` after it becomes one fused step,
the first of these that fits:

==========================  =========================================  =======================
step                        fits                                       numbers vs the layers
==========================  =========================================  =======================
``direct``                  3x3 conv, one input channel, 2x2 pooling    float32 rounding
                            (:class:`~tinycnn.fast.direct.DirectConvReluPool`)
``winograd``                3x3 conv, >= 8 input channels, 2x2 pooling  float32 rounding
                            (:class:`~tinycnn.fast.winograd.WinogradConvReluPool`)
``fused``                   any "valid", non-overlapping pooling        bit-identical
                            (:class:`~tinycnn.fast.fused.ConvReluPool`)
==========================  =========================================  =======================

Every other layer runs as itself. The first step with parameters computes no input gradient
(``input_grad=False``): nothing before it needs one. Steps keep the layers' parameters and
gradients; only their intermediate state (ReLU masks, pooling switches) is not kept, so
``trace`` and gradient checks run eager.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tinycnn.fast.direct import DirectConvReluPool, can_direct
from tinycnn.fast.fused import ConvReluPool, can_fuse
from tinycnn.fast.winograd import WinogradConvReluPool, can_winograd
from tinycnn.layers.base import Layer
from tinycnn.runtime import Step

__all__ = ["METHODS", "describe", "plan"]

Fits = Callable[[Layer, Layer], bool]
FusedStep = DirectConvReluPool | WinogradConvReluPool | ConvReluPool
# name -> (does the pair fit, the step class), in order of preference
METHODS: dict[str, tuple[Fits, Callable[..., FusedStep]]] = {
    "direct": (can_direct, DirectConvReluPool),
    "winograd": (can_winograd, WinogradConvReluPool),
    "fused": (can_fuse, ConvReluPool),
}


def plan(layers: Sequence[Layer], methods: Sequence[str] = tuple(METHODS)) -> list[Step]:
    """The steps that run ``layers``: fused pairs where one of ``methods`` fits, else layers.

    Parameters
    ----------
    layers : sequence of Layer
        Built.
    methods : sequence of {"direct", "winograd", "fused"}
        Which fused steps may be used, tried in the order of ``METHODS`` (tests pass
        ``("fused",)`` for the bit-identical step alone).
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"plan: expected methods among {list(METHODS)}, got {sorted(unknown)}")
    choices = [METHODS[name] for name in METHODS if name in methods]
    steps: list[Step] = []
    input_grad = False  # until the first step with parameters
    k = 0
    while k < len(layers):
        first, second = layers[k], layers[k + 1] if k + 1 < len(layers) else None
        make = next((make for fits, make in choices if second and fits(first, second)), None)
        if make is None:
            steps.append(first)
            k += 1
        else:
            steps.append(make(first, second, input_grad=input_grad))
            k += 2
        input_grad = input_grad or bool(first.params)
    return steps


def describe(steps: Sequence[Step]) -> list[str]:
    """One line per fused step: ``"conv2d + max_pooling2d: direct"``."""
    names = {make: name for name, (_, make) in METHODS.items()}
    return [
        f"{step.layers[0].name} + {step.layers[1].name}: {names[type(step)]}"
        for step in steps
        if isinstance(step, FusedStep)
    ]
