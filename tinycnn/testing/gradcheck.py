"""Gradient checking: compare ``backward`` with central differences, in float64.

``gradcheck(layer, x)`` perturbs, one at a time, every element of the input and of every
parameter tensor and measures how a scalar ``f`` responds::

    numeric[i] = (8*(f(t + eps*e_i) - f(t - eps*e_i)) - (f(t + 2eps*e_i) - f(t - 2eps*e_i)))
                 / (12*eps)                                         error O(eps⁴) for smooth f

and compares it with the analytic gradient that ``backward`` returns (``dx``) or stores
(``grads``). The scalar is

- ``f = Σ out * dout`` for a layer or a model, with a random upstream gradient ``dout`` (seeded,
  never all ones: ones would hide, e.g., a transposed gradient), so ``∂f/∂x = backward(dout)``;
- the loss, when a ``loss`` is given (a model's ``forward(..., logits=True)`` feeds it), or when
  the target is itself a loss (``x`` are then the logits and ``y`` the labels).

The target is copied and cast to float64 first: in float32 the differences would drown in
rounding. Outputs are differenced *before* they are weighted and summed, so entries that an
element does not reach cancel exactly and add no rounding noise.

**Relative error.** Per element, with analytic ``a`` and numeric ``n``::

    error = |a - n| / max(|a| + terms, floor)
    terms = Σ_k |Δvalue_k * weight_k| / (12*eps)      (>= |n|, the size of what n is summed from)
    Δvalue_k = 8*(value_k(t+eps) - value_k(t-eps)) - (value_k(t+2eps) - value_k(t-2eps))
    floor = 0.1 * max over the tensor of (|a| + terms)

The numeric value carries rounding noise of about 1e-16 * |out| / eps (some 1e-10 absolute at
eps = 1e-6), so it can only be trusted relative to the size of the numbers it is made of. With
``|a| + |n|`` as denominator, a gradient that is a sum cancelling to almost nothing (a bias
gradient ``Σ dout`` of 0.002 from terms of size 1), or an element that is small by chance, would
report that noise as a large error. ``terms`` handles the first case, ``floor`` the second; where
neither applies the error is the usual ``|a - n| / (|a| + |n|)``. A bug still stands out: since
no denominator exceeds the largest ``|a| + terms`` of the tensor, an element off by 1% of that
reports at least 0.01, and a flipped sign up to 1, against about 1e-9 for a correct backward.
A loss is a batch mean, so it is differenced as its N per-example terms ``loss_k / N``: a
gradient that is a small mean of larger per-example gradients (they cancel across the batch) is
measured against the size of those. If a gradient is tiny even per example, raise ``eps``: the
noise shrinks as 1/eps, and piecewise-linear layers pay no truncation error for it. The
five-point stencil (four evaluations) is used rather than the two-point one because through a
softmax the two-point truncation error (~eps²) and the rounding noise (~1/eps) leave no eps
with both below 1e-7 in some drawn models; with O(eps⁴) truncation, eps around 1e-4 keeps
both far below.

**Kinks.** ReLU and max-pooling are not differentiable where a ReLU input is 0 or two window
entries tie. If ``[t - 2eps, t + 2eps]`` straddles such a point, the difference quotient mixes two
slopes and disagrees with ``backward`` although nothing is wrong. To tell kinks from bugs, every
layer that has a ``decision_state()`` method (ReLU: its mask ``x > 0``; MaxPool2D: its argmax
switches) reports it after each forward pass, for the target and every layer inside it
(``model.layers``, activation shortcuts ``layer.activation``). An element is a *kink* when any
decision state differs among ``t ± eps`` and ``t ± 2eps``; kinks are counted and left out of the
error. For layers without decision states, ``kink_tol`` adds a second test: an element is also a
kink when its two one-sided slopes differ by more than ``kink_tol`` (they differ by about ``eps *
|f''|`` where ``f`` is smooth).

**Randomness.** With ``training=True`` (e.g. Dropout), every random generator found on the layers
(an attribute ``rng`` holding an ``np.random.Generator``) is rewound to the same state before
each forward pass, so every evaluation draws the same mask.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinycnn.layers.base import Array, Layer
from tinycnn.losses import get_loss

FLOOR = 0.1  # fraction of the tensor's largest gradient below which errors are absolute


@dataclass(frozen=True)
class TensorCheck:
    """The check of one tensor (the input ``"x"`` or a parameter such as ``"conv2d/w"``).

    Attributes
    ----------
    name : str
    shape : tuple of int
    max_rel_error : float
        Largest relative error over the elements that are not kinks (0.0 if there are none).
    n_checked : int
        Elements whose error counts, i.e. all elements minus the kinks.
    n_kinks : int
        Elements left out because a perturbation crossed a kink.
    worst_index : tuple of int or None
        Index of the element with the largest error (None if nothing was checked).
    """

    name: str
    shape: tuple[int, ...]
    max_rel_error: float
    n_checked: int
    n_kinks: int
    worst_index: tuple[int, ...] | None


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of ``gradcheck``: one ``TensorCheck`` per tensor; ``str()`` is a report table."""

    target: str
    tensors: list[TensorCheck]
    tolerance: float
    eps: float

    @property
    def max_rel_error(self) -> float:
        """Largest relative error over all tensors, kinks excluded."""
        # np.max, unlike max(), propagates a NaN error instead of hiding it
        return float(np.max([t.max_rel_error for t in self.tensors], initial=0.0))

    @property
    def ok(self) -> bool:
        """True when ``max_rel_error <= tolerance``."""
        return self.max_rel_error <= self.tolerance

    def __str__(self) -> str:
        lines = [
            f"gradcheck {self.target} (float64, eps={self.eps:g})",
            f"  {'tensor':<24} {'shape':<16} {'max rel error':>13} {'checked':>8} "
            f"{'kinks':>6}  worst index",
        ]
        for t in self.tensors:
            lines.append(
                f"  {t.name:<24} {str(t.shape):<16} {t.max_rel_error:>13.2e} {t.n_checked:>8} "
                f"{t.n_kinks:>6}  {t.worst_index}"
            )
        verdict = "OK" if self.ok else "FAIL"
        relation = "<=" if self.ok else ">"
        lines.append(
            f"  {verdict}: max rel error {self.max_rel_error:.2e} {relation} tolerance "
            f"{self.tolerance:g} (kinks excluded)"
        )
        return "\n".join(lines)


def relative_error(analytic: Array, numeric: Array, terms: Array | None = None) -> Array:
    """Elementwise error ``|a - n| / max(|a| + terms, floor)``; see the module docstring.

    Parameters
    ----------
    analytic, numeric : ndarray, same shape
        The two gradients of one tensor.
    terms : ndarray, same shape, optional
        Size of the contributions the numeric value was summed from (``>= |numeric|``);
        default ``|numeric|``.

    Returns
    -------
    error : ndarray, same shape
        ``floor = FLOOR * max(|a| + terms)`` over the tensor, and at least 1e-12.
    """
    size = np.abs(analytic) + (np.abs(numeric) if terms is None else terms)
    floor = max(FLOOR * size.max(initial=0.0), 1e-12)
    return np.abs(analytic - numeric) / np.maximum(size, floor)


def gradcheck(
    target: Any,
    x: Array,
    y: Array | None = None,
    *,
    loss: Any = None,
    dout: Array | None = None,
    eps: float = 1e-6,
    seed: int = 0,
    kink_tol: float | None = None,
    training: bool = False,
    tolerance: float = 1e-6,
    verbose: bool = False,
) -> GradcheckResult:
    """Check the gradients of a layer, a model or a loss against central differences.

    Parameters
    ----------
    target : Layer, Sequential or loss
        What to check. It is deep-copied and cast to float64; the caller's object is untouched.
        An unbuilt layer is built for ``x.shape[1:]`` with weights drawn from ``seed``. A loss
        needs ``y`` and has ``forward(logits, y)`` and ``backward()``.
    x : ndarray, shape (N, ...)
        Input (for a loss: the logits). Checked as the tensor named ``"x"``.
    y : ndarray, optional
        Labels, for a loss target or with ``loss``.
    loss : loss object or name, optional
        Check ``f = loss(target(x), y)`` instead of ``Σ out * dout``; a name such as
        ``"softmax_cross_entropy"`` is looked up with :func:`tinycnn.losses.get_loss`.
    dout : ndarray, shaped like the output, optional
        Upstream gradient; default: standard normal values drawn with ``seed``.
    eps : float
        Perturbation size.
    seed : int
        Seed of the default ``dout`` (and of the weights of an unbuilt layer).
    kink_tol : float, optional
        Also flag elements whose one-sided slopes differ by more than this (see module docs).
    training : bool
        Run ``forward(..., training=True)``, with random generators rewound before each pass.
    tolerance : float
        ``result.ok`` is ``max_rel_error <= tolerance``.
    verbose : bool
        Print the report.

    Returns
    -------
    GradcheckResult
    """
    probe = _Probe(target, x, y, loss, dout, training, seed)
    checks = [
        _check_tensor(name, tensor, analytic, probe, eps, kink_tol)
        for name, tensor, analytic in probe.gradients()
    ]
    label = repr(target) if isinstance(target, Layer) else type(target).__name__
    result = GradcheckResult(label, checks, tolerance, eps)
    if verbose:
        print(result)
    return result


class _Probe:
    """The float64 copy of the target, evaluated as ``f = Σ value * weight``.

    ``value`` is the output (``weight`` = the upstream gradient) or the loss (``weight`` = 1).
    """

    def __init__(self, target, x, y, loss, dout, training: bool, seed: int) -> None:
        self.target = copy.deepcopy(target)
        if isinstance(self.target, Layer) and not self.target.built:
            self.target.build(np.shape(x)[1:], np.random.default_rng(seed))
        if hasattr(self.target, "astype"):
            self.target.astype(np.float64)
        self.is_loss = not (isinstance(target, Layer) or hasattr(target, "layers"))
        self.loss = None if loss is None else copy.deepcopy(get_loss(loss))
        self.x = np.array(x, dtype=np.float64)
        y = None if y is None else np.asarray(y)
        self.y = y.astype(np.float64) if y is not None and y.dtype.kind == "f" else y
        self.training = training
        self._rng_states = [
            (rng, copy.deepcopy(rng.bit_generator.state)) for rng in _generators(self.target)
        ]
        out = self.value()
        if self.is_loss or self.loss is not None:
            self.weight: Array = np.ones(())
        elif dout is None:
            self.weight = np.random.default_rng(seed).standard_normal(out.shape)
        else:
            self.weight = _same_shape(np.array(dout, dtype=np.float64), out.shape, "dout")

    def value(self) -> Array:
        """One forward pass from the same random state: the output, or the loss (0-d)."""
        for rng, state in self._rng_states:
            rng.bit_generator.state = copy.deepcopy(state)
        if self.is_loss:
            return self._per_example_loss(self.target, self.x)
        if hasattr(self.target, "layers"):
            logits = self.loss is not None
            out = self.target.forward(self.x, training=self.training, logits=logits)
        else:
            out = self.target.forward(self.x, training=self.training)
        if self.loss is not None:
            return self._per_example_loss(self.loss, out)
        return np.array(out, dtype=np.float64)

    def _per_example_loss(self, loss: Any, logits: Array) -> Array:
        """The batch-mean loss as its N terms ``loss(example k) / N``, shape (N,).

        They sum to the loss; differenced one by one, they give ``terms`` (module docs) for a
        gradient that is a small mean of larger per-example gradients. The whole batch goes
        through ``loss.forward`` last, so ``loss.backward()`` sees it.
        """
        N = len(logits)
        parts = [loss.forward(logits[k : k + 1], self._y_rows(k)) / N for k in range(N)]
        loss.forward(logits, self.y)
        return np.array(parts, dtype=np.float64)

    def _y_rows(self, k: int) -> Any:
        return None if self.y is None else self.y[k : k + 1]

    def gradients(self) -> list[tuple[str, Array, Array]]:
        """``(name, tensor, analytic gradient)`` for ``x`` and every parameter tensor."""
        self.value()
        if self.is_loss:
            dx = self.target.backward()
        else:
            upstream = self.weight if self.loss is None else self.loss.backward()
            dx = self.target.backward(upstream)
        checks: list[tuple[str, Array, Array]] = [
            ("x", self.x, _same_shape(np.array(dx), self.x.shape, "backward's dx"))
        ]
        for name, param, grad in _parameters(self.target):
            checks.append((name, param, _same_shape(np.array(grad), param.shape, name)))
        return checks

    def decision_states(self) -> list[np.ndarray]:
        """The ``decision_state()`` of every layer that has one, after the last forward."""
        return [
            np.array(layer.decision_state())
            for layer in _sublayers(self.target)
            if callable(getattr(layer, "decision_state", None))
        ]


def _check_tensor(name, tensor, analytic, probe: _Probe, eps, kink_tol) -> TensorCheck:
    """Compare one tensor's analytic gradient with central differences."""
    numeric, terms, kinks = _numerical_gradient(tensor, probe, eps, kink_tol)
    error = np.where(kinks, -np.inf, relative_error(analytic, numeric, terms))
    n_kinks = int(kinks.sum())
    if n_kinks == tensor.size:
        return TensorCheck(name, tensor.shape, 0.0, 0, n_kinks, None)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(error), tensor.shape))
    return TensorCheck(
        name, tensor.shape, float(error[worst]), tensor.size - n_kinks, n_kinks, worst
    )


def _numerical_gradient(tensor, probe: _Probe, eps, kink_tol) -> tuple[Array, Array, np.ndarray]:
    """Central differences of ``f`` for every element of ``tensor`` (perturbed in place)."""
    numeric = np.zeros(tensor.shape)
    terms = np.zeros(tensor.shape)
    kinks = np.zeros(tensor.shape, dtype=bool)
    value_0 = probe.value()
    for idx in np.ndindex(tensor.shape):
        original = tensor[idx]
        values, states = {}, []
        for step in (2, 1, -1, -2):
            tensor[idx] = original + step * eps
            values[step] = probe.value()
            states.append(probe.decision_states())
        tensor[idx] = original
        differences = 8 * (values[1] - values[-1]) - (values[2] - values[-2])
        contributions = differences * probe.weight / (12 * eps)
        numeric[idx] = np.sum(contributions)
        terms[idx] = np.sum(np.abs(contributions))
        kinks[idx] = any(
            not np.array_equal(a, b)
            for other in states[1:]
            for a, b in zip(states[0], other, strict=True)
        )
        if kink_tol is not None:
            slope_change = np.sum((values[1] - 2 * value_0 + values[-1]) * probe.weight) / eps
            kinks[idx] |= abs(slope_change) > kink_tol
    return numeric, terms, kinks


def _sublayers(target: Any) -> Iterator[Any]:
    """The target and every layer inside it: model layers and activation shortcuts."""
    yield target
    for layer in getattr(target, "layers", ()):
        yield from _sublayers(layer)
    activation = getattr(target, "activation", None)
    if isinstance(activation, Layer):
        yield from _sublayers(activation)


def _generators(target: Any) -> list[np.random.Generator]:
    """Random generators held as ``.rng`` by the target or its layers (e.g. Dropout)."""
    found = [getattr(layer, "rng", None) for layer in _sublayers(target)]
    return [rng for rng in found if isinstance(rng, np.random.Generator)]


def _parameters(target: Any) -> list[tuple[str, Array, Array]]:
    """``(name, param, grad)`` for a model (``params_and_grads``) or a single layer."""
    if hasattr(target, "params_and_grads"):
        return list(target.params_and_grads())
    params = getattr(target, "params", {})
    return [(f"{target.describe()}/{key}", params[key], target.grads[key]) for key in params]


def _same_shape(array: Array, shape: tuple[int, ...], what: str) -> Array:
    if array.shape != tuple(shape):
        raise ValueError(f"gradcheck: {what} should have shape {tuple(shape)}, got {array.shape}")
    return array
