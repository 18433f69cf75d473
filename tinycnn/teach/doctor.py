"""``doctor(model, x, y)``: the sanity checks teachers do by hand before a long training run.

Each check gives a status (ok, warn, fail), a one-line finding, and a plain-language hint when
something looks wrong. The model passed in is never changed: the checks that train work on a
copy.

Checks
------
1. **Input scale**: NaN in the inputs, or pixels still in 0-255, or constant inputs.
2. **Initial loss**: an untrained K-class model should predict about 1/K for every class, so its
   cross-entropy should be near ln K (2.303 for 10 classes). Much higher means confidently wrong
   initial predictions (too-large weights or inputs); much lower, an already trained model or
   leaking labels.
3. **Overfit a few examples**: training on 20 examples only must reach 100% accuracy on them in a
   few hundred steps. If not, something is broken (labels, gradients, learning rate), because
   any working network can memorise 20 examples.
4. **Update-to-weight ratio**: ``||Δw|| / ||w||`` per weight tensor after a few optimizer steps.
   Karpathy's rule of thumb puts a typical value near 1e-3; the check is ok anywhere in
   ``RATIO_BAND`` (1e-5 to 1e-1, two orders of magnitude either side of it) and warns outside
   it: far below means the layer barely learns, far above that it is being thrown around. Also
   flags layers whose gradient is exactly zero (no gradient reaches them).
5. **Dead ReLUs**: per channel of each ReLU-activated layer, the fraction of outputs that are 0 on
   a batch; a channel that is 0 everywhere is dead (it passes no gradient and never recovers).
6. **Activation scale**: the RMS of every layer's output; values shrinking towards 0 (vanishing)
   or growing into the hundreds (exploding) through the layers signal initialisation or scaling
   problems.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinycnn.model import Sequential
from tinycnn.training.metrics import to_labels

STATUSES = ("ok", "warn", "fail")
RATIO_BAND = (1e-5, 1e-1)  # update/weight ratios doctor calls ok; outside it, a warning


@dataclass
class Check:
    """One finding of ``doctor``."""

    name: str
    status: str
    summary: str
    hint: str = ""
    details: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"[{self.status:<4}] {self.name}: {self.summary}"]
        lines += [f"       {line}" for line in self.details]
        if self.hint and self.status != "ok":
            lines.append(f"       hint: {self.hint}")
        return "\n".join(lines)


@dataclass
class DoctorReport:
    """All checks; ``str(report)`` is the readable text, ``report["initial loss"]`` one check."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check {name!r}; have {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        counts = {s: sum(c.status == s for c in self.checks) for s in STATUSES}
        head = (
            f"tinycnn doctor: {len(self.checks)} checks, {counts['ok']} ok, "
            f"{counts['warn']} warning(s), {counts['fail']} failed"
        )
        return "\n".join([head, *map(str, self.checks)])


def doctor(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    samples: int = 256,
    overfit_examples: int = 20,
    overfit_steps: int = 300,
    seed: int = 0,
    verbose: bool = True,
) -> DoctorReport:
    """Run the sanity checks of the module docstring on ``model`` with data ``(x, y)``.

    Parameters
    ----------
    model : Sequential
        Built; compiled or not (without an optimizer the checks use ``Adam(1e-3)``).
    x : ndarray, shape (N, H, W, C)
        Inputs as they will be given to ``fit`` (e.g. scaled to [0, 1]).
    y : ndarray, shape (N,) or (N, K)
        Labels.
    samples : int
        How many examples (drawn with ``seed``) the checks look at.
    overfit_examples, overfit_steps : int
        Size of the tiny training set and the step budget of the overfitting check.
    seed : int
        Seeds the choice of examples.
    verbose : bool
        Print the report.

    Returns
    -------
    DoctorReport
    """
    x = np.asarray(x)
    labels = to_labels(y)
    if x.shape[0] != labels.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x has {x.shape[0]} examples but y has {labels.shape[0]}")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(x.shape[0])[: min(samples, x.shape[0])]
    xs, ys = x[pick].astype(np.float32), labels[pick]
    K = int(max(model.forward(xs[:1], logits=True).shape[-1], 2))
    checks = [
        check_input_scale(xs),
        check_initial_loss(model, xs, ys, K),
        check_overfit(model, x, labels, overfit_examples, overfit_steps, rng),
        check_update_ratio(model, xs, ys),
        check_dead_relus(model, xs),
        check_activation_scale(model, xs),
    ]
    report = DoctorReport(checks)
    if verbose:
        print(report)
    return report


def _fresh_copy(model: Sequential) -> tuple[Any, Any]:
    """A deep copy of the model and a new optimizer like the model's (Adam(1e-3) if none)."""
    from tinycnn.losses import SoftmaxCrossEntropy
    from tinycnn.optim import Adam, Optimizer, get_optimizer

    clone = copy.deepcopy(model)
    opt = getattr(model, "optimizer", None)
    optimizer: Optimizer
    if opt is None:
        optimizer = Adam(1e-3)
    else:
        optimizer = get_optimizer({"class_name": type(opt).__name__, "config": opt.get_config()})
    clone.optimizer, clone.loss = optimizer, SoftmaxCrossEntropy()
    return clone, optimizer


def _train_step(model: Sequential, xb: np.ndarray, yb: np.ndarray) -> float:
    logits = model.forward(xb, training=True, logits=True)
    loss = float(model.loss.forward(logits, yb))
    model.backward(model.loss.backward())
    triples = model.params_and_grads()
    model.optimizer.update([p for _, p, _ in triples], [g for _, _, g in triples])
    return loss


def check_input_scale(x: np.ndarray) -> Check:
    """NaN, unscaled (0-255) or constant inputs."""
    name = "input scale"
    if not np.all(np.isfinite(x)):
        return Check(name, "fail", "the inputs contain NaN or inf", "clean or drop those images")
    lo, hi, mean, std = float(x.min()), float(x.max()), float(x.mean()), float(x.std())
    summary = f"values in [{lo:.3f}, {hi:.3f}], mean {mean:.3f}, std {std:.3f}"
    values = {"min": lo, "max": hi, "mean": mean, "std": std}
    if hi > 10:
        hint = "the inputs look like raw 0-255 pixels: divide by 255 (tinycnn.data.scale_images)"
        return Check(name, "fail", summary, hint, values=values)
    if std < 1e-6:
        return Check(name, "fail", summary, "every input is the same: check the data loading")
    if hi > 1.5 or lo < -1.5:
        hint = "inputs are usually scaled to [0, 1] (or standardised); large inputs slow learning"
        return Check(name, "warn", summary, hint, values=values)
    return Check(name, "ok", summary, values=values)


def check_initial_loss(model: Sequential, x: np.ndarray, y: np.ndarray, K: int) -> Check:
    """Cross-entropy of the model as it is, compared with ln K."""
    from tinycnn.losses import SoftmaxCrossEntropy

    loss = float(SoftmaxCrossEntropy().forward(model.forward(x, logits=True), y))
    expected = math.log(K)
    ratio = loss / expected
    summary = f"{loss:.3f} (an untrained {K}-class model should give about ln {K} = {expected:.3f})"
    values = {"loss": loss, "expected": expected, "ratio": ratio}
    if not math.isfinite(loss) or ratio > 2.0:
        hint = (
            "the initial predictions are confidently wrong: check the input scaling and that the "
            "weights are initialised small (Glorot/He), and that the last layer is not huge"
        )
        return Check("initial loss", "fail", summary, hint, values=values)
    if ratio > 1.25:
        hint = "a bit high: the initial outputs are not near-uniform; check initialisation scale"
        return Check("initial loss", "warn", summary, hint, values=values)
    if ratio < 0.75:
        hint = (
            "lower than chance: fine if the model is already trained; if not, the labels may "
            "leak into the inputs or the classes may be very unbalanced"
        )
        return Check("initial loss", "warn", summary, hint, values=values)
    return Check("initial loss", "ok", summary, values=values)


def _few_examples(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` example indices, spread over the classes (round robin)."""
    by_class = [rng.permutation(np.flatnonzero(labels == k)) for k in np.unique(labels)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < min(count, labels.shape[0]):
        chosen += [int(members[depth]) for members in by_class if depth < len(members)]
        depth += 1
    return np.array(chosen[:count])


def check_overfit(
    model: Sequential,
    x: np.ndarray,
    labels: np.ndarray,
    count: int,
    steps: int,
    rng: np.random.Generator,
) -> Check:
    """Train a copy on ``count`` examples for up to ``steps`` full-batch steps."""
    name = f"overfit {count} examples"
    clone, optimizer = _fresh_copy(model)
    index = _few_examples(labels, count, rng)
    xb, yb = x[index].astype(np.float32), labels[index]
    first = loss = _train_step(clone, xb, yb)
    accuracy, done = 0.0, 1
    for done in range(2, steps + 1):
        loss = _train_step(clone, xb, yb)
        if done % 10 == 0 or done == steps:
            accuracy = float(np.mean(np.argmax(clone.forward(xb, logits=True), 1) == yb))
            if accuracy == 1.0 and loss < 0.05:
                break
    summary = (
        f"{accuracy:.0%} of them right after {done} steps of {optimizer!r} (loss {first:.3f} -> "
        f"{loss:.3f})"
    )
    values = {"accuracy": accuracy, "loss": loss, "steps": done}
    if accuracy == 1.0:
        return Check(name, "ok", summary, values=values)
    hint = (
        "a working network memorises a handful of examples easily; if it cannot, check that the "
        "labels match the images, that the learning rate is sensible (Adam 1e-3), and the "
        "gradient flow below (zero gradients, dead ReLUs)"
    )
    return Check(name, "warn" if accuracy >= 0.8 else "fail", summary, hint, values=values)


def check_update_ratio(model: Sequential, x: np.ndarray, y: np.ndarray, steps: int = 5) -> Check:
    """``||Δw|| / ||w||`` of each weight tensor over the last of a few steps on batches of 64."""
    clone, _ = _fresh_copy(model)
    before: list[np.ndarray] = []
    for s in range(steps):
        start = (s * 64) % max(x.shape[0] - 63, 1)
        before = [p.copy() for _, p, _ in clone.params_and_grads()]
        _train_step(clone, x[start : start + 64], y[start : start + 64])
    rows, ratios, frozen = [], {}, []
    for (name, p, g), old in zip(clone.params_and_grads(), before, strict=True):
        if not name.endswith("/w"):
            continue
        ratio = float(np.linalg.norm(p - old) / max(np.linalg.norm(old), 1e-12))
        ratios[name] = ratio
        rows.append(f"{name:<20} {ratio:9.2e}   grad norm {float(np.linalg.norm(g)):9.2e}")
        if not np.any(g):
            frozen.append(name)
    values = {"ratios": ratios, "zero_grad": frozen}
    low, high = RATIO_BAND
    summary = (
        f"from {min(ratios.values()):.1e} to {max(ratios.values()):.1e} "
        f"(ok between {low:.0e} and {high:.0e}; typically near 1e-3)"
    )
    if frozen:
        hint = f"no gradient reaches {', '.join(frozen)}: dead ReLUs upstream or a broken layer"
        return Check("update/weight ratio", "fail", summary, hint, rows, values)
    too_big = [n for n, r in ratios.items() if r > high]
    too_small = [n for n, r in ratios.items() if r < low]
    if too_big or too_small:
        hint = _naming(
            {
                "{} change by >10% per step: lower the learning rate": too_big,
                "{} barely move: raise the learning rate": too_small,
            }
        )
        return Check("update/weight ratio", "warn", summary, hint, rows, values)
    return Check("update/weight ratio", "ok", summary, details=rows, values=values)


def _naming(groups: dict[str, list[str]]) -> str:
    """Each template whose list of layer names is not empty, filled with those names (comma
    separated), joined by ``"; "``: ``{"exploding at {}": ["conv2d"]}`` gives
    ``"exploding at conv2d"``."""
    return "; ".join(
        template.format(", ".join(names)) for template, names in groups.items() if names
    )


def _layer_outputs(model: Sequential, x: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """Each layer with its output (inference mode), stopping before a final softmax."""
    outputs = []
    for i, layer in enumerate(model.layers):
        last = i == len(model.layers) - 1
        if last and type(layer).__name__ == "Softmax":
            break
        activation = getattr(layer, "activation", None)
        if last and type(activation).__name__ == "Softmax":
            x = layer.forward(x, False, apply_activation=False)  # type: ignore[call-arg]
        else:
            x = layer.forward(x, False)
        outputs.append((layer, x))
    return outputs


def _is_relu(layer: Any) -> bool:
    return type(layer).__name__ == "ReLU" or type(getattr(layer, "activation", None)).__name__ == (
        "ReLU"
    )


def check_dead_relus(model: Sequential, x: np.ndarray) -> Check:
    """Per channel of each ReLU layer: fraction of zero outputs, and channels that are all zero."""
    rows, dead_share, values = [], {}, {}
    for layer, out in _layer_outputs(copy.deepcopy(model), x):
        if not _is_relu(layer):
            continue
        zero = (out <= 0).reshape(-1, out.shape[-1]).mean(axis=0)  # (C,)
        dead = int(np.sum(zero == 1.0))
        dead_share[layer.name] = dead / zero.size
        values[layer.name] = zero.tolist()
        rows.append(
            f"{layer.name:<20} {dead:4d}/{zero.size:<4d} dead channels, mean zero fraction "
            f"{float(zero.mean()):.2f}"
        )
    if not rows:
        return Check("dead ReLUs", "ok", "no ReLU layers", values={"zero_fraction": values})
    worst = max(dead_share, key=lambda name: dead_share[name])
    summary = f"worst layer {worst}: {dead_share[worst]:.0%} of its channels never fire"
    hint = (
        "dead channels output 0 for every input and get no gradient, so they never recover: "
        "lower the learning rate, check the input scaling and the weight initialisation (He)"
    )
    status = "fail" if dead_share[worst] > 0.5 else "warn" if dead_share[worst] > 0.2 else "ok"
    return Check("dead ReLUs", status, summary, hint, rows, {"zero_fraction": values})


def check_activation_scale(model: Sequential, x: np.ndarray) -> Check:
    """RMS of each layer's output (logits for the last), looking for vanishing or exploding."""
    rows, rms = [], {}
    for layer, out in _layer_outputs(copy.deepcopy(model), x):
        value = float(np.sqrt(np.mean(np.square(out, dtype=np.float64))))
        rms[layer.name] = value
        rows.append(f"{layer.name:<20} rms {value:9.3e}   max |.| {float(np.abs(out).max()):9.3e}")
    summary = f"output RMS from {min(rms.values()):.2e} to {max(rms.values()):.2e}"
    big = [n for n, v in rms.items() if not math.isfinite(v) or v > 100]
    small = [n for n, v in rms.items() if v < 1e-3]
    if big or small:
        hint = (
            _naming({"exploding at {}": big, "vanishing at {}": small})
            + ": activations should stay around 0.1-10 through the network; "
            "check input scaling and initialisation (He for ReLU layers, Glorot otherwise)"
        )
        status = "fail" if any(not math.isfinite(rms[n]) or rms[n] > 1e4 for n in big) else "warn"
        return Check("activation scale", status, summary, hint, rows, {"rms": rms})
    return Check("activation scale", "ok", summary, details=rows, values={"rms": rms})
