"""Trace a batch through a model: every tensor's shape, forward and backward, with costs.

``model.summary()`` shows one output shape per layer. A training step makes many more arrays:
each convolution unfolds its input into an im2col matrix, multiplies it by the reshaped kernel,
and on the way back makes ``dcols``, ``dw`` and ``dx``. :func:`trace` runs one forward and one
backward pass on a copy of the model, layer by layer, and records them all, so a learner sees
where the memory and the arithmetic go.

Notes
-----
FLOPs count the multiply-adds of the matrix products only, two FLOPs each (one multiply, one
add); bias additions, activations, pooling and copies are not counted (they are O(size of the
output) and cheap next to the products). With ``N`` images::

    Conv2D forward   2*N*OH*OW*KH*KW*C*F     (cols @ w2d)
    Conv2D backward  2 * forward             (dw = cols.T @ dout2d and dcols = dout2d @ w2d.T)
    Dense forward    2*N*D*U                 (x @ w)
    Dense backward   2 * forward             (dw = x.T @ dout and dx = dout @ w.T)

So one training step costs three times the forward FLOPs. For the seed CNN this gives
5,262,080 forward FLOPs per image and 15,786,240 per image in a training step
(``tests/test_trace.py`` recomputes both).

Bytes are ``size * itemsize`` of each array as the reference implementation makes it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinycnn.layers.base import Array
from tinycnn.model import Sequential


@dataclass(frozen=True)
class TensorRecord:
    """One array made during the traced step.

    Attributes
    ----------
    phase : {"forward", "backward"}
    layer : str
        The layer's name (``"input"`` for the batch itself).
    name : str
        What the array is, in the code's symbols, e.g. ``"cols = im2col(x)"``.
    shape : tuple of int
    nbytes : int
    """

    phase: str
    layer: str
    name: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class LayerCost:
    """FLOPs and bytes of one layer for the traced batch (see the module Notes)."""

    layer: str
    kind: str
    output_shape: tuple[int, ...]
    forward_flops: int
    backward_flops: int
    param_bytes: int
    output_bytes: int
    im2col_bytes: int


@dataclass
class Trace:
    """The result of :func:`trace`: tensors in the order they were made, and costs per layer.

    ``str(trace)`` is a readable report: the forward tensors, the backward tensors and a cost
    table with totals.
    """

    batch_size: int
    dtype: str
    tensors: list[TensorRecord] = field(default_factory=list)
    layers: list[LayerCost] = field(default_factory=list)

    @property
    def forward_flops(self) -> int:
        """Total forward FLOPs of the batch."""
        return sum(cost.forward_flops for cost in self.layers)

    @property
    def backward_flops(self) -> int:
        """Total backward FLOPs of the batch."""
        return sum(cost.backward_flops for cost in self.layers)

    def record(self, phase: str, layer: str, name: str, shape: tuple[int, ...]) -> None:
        """Add an array of ``shape`` (in the traced dtype) to ``tensors``."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize
        self.tensors.append(TensorRecord(phase, layer, name, tuple(shape), nbytes))

    def cost(self, layer: str) -> LayerCost:
        """The :class:`LayerCost` of the layer called ``layer``."""
        for cost in self.layers:
            if cost.layer == layer:
                return cost
        raise ValueError(f"no layer {layer!r} in the trace; have {[c.layer for c in self.layers]}")

    def __str__(self) -> str:
        return format_trace(self)


def _conv_shapes(layer: Any, out: Array) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays inside a Conv2D step (symbols as in ``layers/conv2d.py``)."""
    KH, KW, C, F = layer.params["w"].shape
    N, OH, OW, _ = out.shape
    return {
        "cols": (N * OH * OW, KH * KW * C),
        "w2d": (KH * KW * C, F),
        "out2d": (N * OH * OW, F),
    }


def layer_flops(layer: Any, x: Array, out: Array) -> int:
    """Forward FLOPs of ``layer`` mapping ``x`` to ``out``: 2 per multiply-add of its product.

    ``2*N*OH*OW*KH*KW*C*F`` for Conv2D, ``2*N*D*U`` for Dense, 0 for the others.
    """
    kind = type(layer).__name__
    if kind == "Conv2D":
        KH, KW, C, F = layer.params["w"].shape
        N, OH, OW, _ = out.shape
        return 2 * N * OH * OW * KH * KW * C * F
    if kind == "Dense":
        D, U = layer.params["w"].shape
        return 2 * x.shape[0] * D * U
    return 0


def _activation_suffix(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    return f" after {type(activation).__name__.lower()}" if activation is not None else ""


def _trace_forward(result: Trace, layer: Any, x: Array) -> Array:
    name = layer.describe()
    out = layer.forward(x, training=True)
    for key, param in layer.params.items():
        result.record("forward", name, f"{key} (parameter)", param.shape)
    if type(layer).__name__ == "Conv2D":
        shapes = _conv_shapes(layer, out)
        result.record("forward", name, "cols = im2col(x)", shapes["cols"])
        result.record("forward", name, "w2d = w.reshape(-1, F)", shapes["w2d"])
        result.record("forward", name, "cols @ w2d + b", shapes["out2d"])
    result.record("forward", name, "out" + _activation_suffix(layer), out.shape)
    return out


def _trace_backward(result: Trace, layer: Any, out: Array, dout: Array) -> Array:
    name = layer.describe()
    result.record("backward", name, "dout", dout.shape)
    dx = layer.backward(dout)
    is_conv = type(layer).__name__ == "Conv2D"
    if is_conv:
        shapes = _conv_shapes(layer, out)
        result.record("backward", name, "dout2d = dout.reshape(-1, F)", shapes["out2d"])
        result.record("backward", name, "dw2d = cols.T @ dout2d", shapes["w2d"])
        result.record("backward", name, "dcols = dout2d @ w2d.T", shapes["cols"])
    for key, grad in layer.grads.items():
        result.record("backward", name, f"d{key}", grad.shape)
    result.record("backward", name, "dx = col2im(dcols)" if is_conv else "dx", dx.shape)
    return dx


def _layer_cost(layer: Any, x: Array, out: Array, itemsize: int) -> LayerCost:
    flops = layer_flops(layer, x, out)
    im2col = 0
    if type(layer).__name__ == "Conv2D":
        rows, width = _conv_shapes(layer, out)["cols"]
        im2col = rows * width * itemsize
    return LayerCost(
        layer=layer.describe(),
        kind=type(layer).__name__,
        output_shape=tuple(out.shape),
        forward_flops=flops,
        backward_flops=2 * flops,
        param_bytes=sum(int(p.size) for p in layer.params.values()) * itemsize,
        output_bytes=int(out.size) * itemsize,
        im2col_bytes=im2col,
    )


def trace(model: Sequential, x: Array) -> Trace:
    """Run one training step's forward and backward pass on a copy of ``model``, recording shapes.

    Parameters
    ----------
    model : Sequential
        A built model; it is not modified (a deep copy is traced).
    x : ndarray, shape (N, *input_shape)
        A batch as the model expects it (its values do not matter, only its shape).

    Returns
    -------
    Trace
        ``tensors`` in the order the step makes them, ``layers`` with FLOPs and bytes; print it
        for a readable report. The backward pass starts from a random ``dout`` shaped like the
        model's output, as the loss would give.
    """
    if not getattr(model, "built", False):
        raise ValueError("trace needs a built model: call model.build(input_shape) first")
    model = copy.deepcopy(model)
    params = [p for layer in model.layers for p in layer.params.values()]
    dtype = params[0].dtype if params else np.float32
    x = np.asarray(x, dtype=np.result_type(dtype, np.float32))
    if x.shape[1:] != model.built_input_shape():
        expected = ", ".join(["N", *map(str, model.built_input_shape())])
        raise ValueError(f"trace expected input of shape ({expected}), got {x.shape}")
    result = Trace(batch_size=len(x), dtype=str(x.dtype))
    result.record("forward", "input", "x", x.shape)
    activations = [x]  # the input of layer k is activations[k], its output activations[k + 1]
    for layer in model.layers:
        out = _trace_forward(result, layer, activations[-1])
        result.layers.append(_layer_cost(layer, activations[-1], out, x.dtype.itemsize))
        activations.append(out)
    dout = np.random.default_rng(0).standard_normal(activations[-1].shape).astype(x.dtype)
    for k in reversed(range(len(model.layers))):
        dout = _trace_backward(result, model.layers[k], activations[k + 1], dout)
    return result


def _format_tensors(trace: Trace, phase: str) -> list[str]:
    lines = [f"{phase.capitalize()}", f"  {'layer':<18}{'array':<32}{'shape':<22}{'bytes':>12}"]
    previous = None
    for t in (t for t in trace.tensors if t.phase == phase):
        layer = t.layer if t.layer != previous else ""
        previous = t.layer
        lines.append(f"  {layer:<18}{t.name:<32}{str(t.shape):<22}{t.nbytes:>12,}")
    return lines


def _format_costs(trace: Trace) -> list[str]:
    header = (
        f"  {'layer':<18}{'type':<11}{'output shape':<20}{'fwd FLOPs':>14}{'bwd FLOPs':>14}"
        f"{'params B':>12}{'output B':>12}{'im2col B':>12}"
    )
    lines = ["Cost per layer (FLOPs = 2 per multiply-add of the matrix products)", header]
    for c in trace.layers:
        lines.append(
            f"  {c.layer:<18}{c.kind:<11}{str(c.output_shape):<20}{c.forward_flops:>14,}"
            f"{c.backward_flops:>14,}{c.param_bytes:>12,}{c.output_bytes:>12,}{c.im2col_bytes:>12,}"
        )
    total = trace.forward_flops + trace.backward_flops
    lines.append(
        f"  total: forward {trace.forward_flops:,} FLOPs, backward {trace.backward_flops:,}, "
        f"one training step {total:,} ({total / trace.batch_size:,.0f} per image)"
    )
    return lines


def format_trace(trace: Trace) -> str:
    """The readable report ``str(trace)``: forward arrays, backward arrays, cost per layer."""
    title = f"Trace of one training step on a batch of N={trace.batch_size} ({trace.dtype})"
    parts = [title, "", *_format_tensors(trace, "forward"), ""]
    parts += [*_format_tensors(trace, "backward"), "", *_format_costs(trace)]
    return "\n".join(parts)
