"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a model file (``tinycnn.saving.io``) with ``"format": "tinycnn-checkpoint"`` and, on
top of the architecture and weights,

- the optimizer's state (step count, Adam's moments, SGD's velocity) as ``opt_<key>`` arrays;
- in the JSON ``meta["checkpoint"]``: the epoch and the batch within it (``step``, the number of
  batches of that epoch already done), the states of every random generator involved (the
  shuffling generator as it was at the start of the epoch, the augmentation generator and each
  layer's generator, e.g. Dropout's, as they are now: ``bit_generator.state`` dicts, which are
  plain JSON), the running sums of the unfinished epoch, the History so far and the settings of
  the ``fit`` call (seed, batch size, sample counts, ...), checked on resume.

Because the shuffling order of an epoch is drawn from the saved epoch-start state and the batches
already done are skipped, ``fit(..., resume=path)`` continues with the same batches, masks and
augmentations as the uninterrupted run, and ends with bit-identical weights on the same machine
and backend. Checkpoints are written atomically (see ``tinycnn.saving.io.atomic_savez``): the last
good one survives a crash during the next write. ``load_model`` opens a checkpoint as a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from tinycnn.protocol import Model
from tinycnn.saving import io, validate

OPTIMIZER_PREFIX = "opt_"


@dataclass
class Checkpoint:
    """The contents of a checkpoint file (see the module docstring)."""

    path: str
    weights: list[np.ndarray]
    optimizer_state: dict[str, np.ndarray]
    epoch: int
    step: int
    generators: dict[str, dict[str, Any]]
    history: dict[str, Any]
    fit_config: dict[str, Any]
    partial: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    callbacks: list[dict[str, Any]] = field(default_factory=list)


def model_generators(model: Model) -> dict[str, np.random.Generator]:
    """Every random generator the model owns, keyed ``"<layer name>.<attribute>"``.

    Found by looking for ``np.random.Generator`` attributes on the model and its layers (Dropout's
    ``rng``). A generator shared by several layers appears under each of their keys.
    """
    found = {}
    owners = [("model", model)] + [(layer.describe(), layer) for layer in model.layers]
    for owner_name, owner in owners:
        for attribute, value in vars(owner).items():
            if isinstance(value, np.random.Generator):
                found[f"{owner_name}.{attribute}"] = value
    return found


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A JSON-serialisable copy of the generator's ``bit_generator.state``."""
    return _jsonable(rng.bit_generator.state)


def set_generator_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Put ``rng`` back into a state from ``generator_state`` (in place, keeping sharing)."""
    rng.bit_generator.state = state


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def save_checkpoint(
    path: str | Path,
    model: Model,
    *,
    epoch: int,
    step: int,
    generators: dict[str, dict[str, Any]],
    history: dict[str, Any],
    fit_config: dict[str, Any],
    partial: dict[str, float] | None = None,
    callbacks: list[dict[str, Any]] | None = None,
) -> None:
    """Write a checkpoint of ``model`` (weights, optimizer state) and the loop's position.

    Parameters
    ----------
    path : str or Path
        Destination, replaced atomically.
    model : Sequential
        A compiled model; ``model.optimizer.get_state()`` is saved.
    epoch, step : int
        0-based epoch, and how many of its batches are done (0 = epoch not started).
    generators : dict of str to dict
        ``generator_state`` of each generator, by name.
    history : dict
        ``History.to_dict()``.
    fit_config : dict
        The settings a resumed run must repeat (checked by ``fit``).
    partial : dict of str to float, optional
        Running sums of the unfinished epoch.
    callbacks : list of dict, optional
        The callbacks' states (``tinycnn.training.callbacks.callback_states``).
    """
    meta, arrays = io.model_meta(model, kind=io.CHECKPOINT_FORMAT)
    optimizer_state = model.optimizer.get_state()
    meta["checkpoint"] = {
        "epoch": int(epoch),
        "step": int(step),
        "generators": generators,
        "history": history,
        "fit_config": fit_config,
        "partial": dict(partial or {}),
        "callbacks": list(callbacks or []),
        "optimizer_keys": sorted(optimizer_state),
    }
    for key, value in optimizer_state.items():
        arrays[OPTIMIZER_PREFIX + key] = np.asarray(value)
    io.atomic_savez(path, {"meta": io.meta_array(meta), **arrays})


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, or any of the refused cases of ``tinycnn.saving.io``; also a plain model file
        (it has no training state to resume from).
    """
    meta, arrays = io.read_file(path)
    if meta["format"] != io.CHECKPOINT_FORMAT or "checkpoint" not in meta:
        raise ValueError(
            f"{path}: a model file, not a training checkpoint (it has no optimizer or loop "
            "state to resume from); write checkpoints with fit(..., checkpoint=path)"
        )
    state = meta["checkpoint"]
    check_state(path, state)
    optimizer_state = {}
    for key in state.get("optimizer_keys", []):
        if OPTIMIZER_PREFIX + key not in arrays:
            raise ValueError(f"{path}: missing optimizer entry {OPTIMIZER_PREFIX + key!r}")
        optimizer_state[key] = arrays[OPTIMIZER_PREFIX + key]
    validate.check_optimizer_state(path, optimizer_state)
    try:
        return Checkpoint(
            path=str(path),
            weights=io.read_weights(path, meta, arrays),
            optimizer_state=optimizer_state,
            epoch=int(state["epoch"]),
            step=int(state["step"]),
            generators=dict(state["generators"]),
            history=dict(state["history"]),
            fit_config=dict(state["fit_config"]),
            partial=dict(state.get("partial", {})),
            meta=meta,
            callbacks=list(state.get("callbacks", [])),
        )
    except KeyError as error:
        raise ValueError(f"{path}: checkpoint state is missing {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: checkpoint state is malformed ({error})") from None


def check_state(path: Any, state: Any) -> None:
    """Check ``meta["checkpoint"]`` field by field; ValueError naming the file and the field.

    ``epoch`` and ``step`` are integers >= 0; ``generators`` holds a PCG64 state for the
    shuffling and augmentation generators (and any layer's), each one NumPy accepts;
    ``partial`` holds finite sums >= 0 (``seen`` > 0 when ``step`` > 0); ``history``,
    ``fit_config`` and ``callbacks`` have the shapes ``fit`` writes. Whether they match the run
    being resumed (step within the epoch, same settings) is checked by ``fit``.
    """
    if not isinstance(state, dict):
        raise ValueError(f"{path}: checkpoint state must be a dict, got {str(state)[:80]}")
    for key in ("epoch", "step", "generators", "history", "fit_config"):
        if key not in state:
            raise ValueError(f"{path}: checkpoint state is missing {key!r}")
    for key in ("epoch", "step"):
        value = state[key]
        if type(value) is not int or value < 0:
            raise ValueError(f"{path}: checkpoint {key} must be an integer >= 0, got {value!r:.80}")
    _check_generators(path, state["generators"])
    _check_partial(path, state.get("partial", {}), state["step"])
    _check_history(path, state["history"])
    if not isinstance(state["fit_config"], dict):
        raise ValueError(f"{path}: checkpoint fit_config must be a dict")
    callbacks = state.get("callbacks", [])
    if not isinstance(callbacks, list) or not all(
        isinstance(c, dict) and isinstance(c.get("class_name"), str)
        and isinstance(c.get("state", {}), dict)
        for c in callbacks
    ):  # fmt: skip
        raise ValueError(f"{path}: checkpoint callbacks must be a list of {{class_name, state}}")


def _check_generators(path: Any, generators: Any) -> None:
    if not isinstance(generators, dict):
        raise ValueError(f"{path}: checkpoint generators must be a dict")
    for key in ("fit.shuffle", "fit.augment"):
        if key not in generators:
            raise ValueError(f"{path}: checkpoint has no state for the generator {key!r}")
    for key, value in generators.items():
        try:
            if not isinstance(value, dict) or value.get("bit_generator") != "PCG64":
                raise ValueError("not a PCG64 state")
            generator: Any = np.random.PCG64()
            generator.state = value  # NumPy checks every field
        except (ValueError, TypeError, KeyError, OverflowError) as error:
            raise ValueError(
                f"{path}: checkpoint generator {str(key)[:40]!r} has an unusable state ({error})"
            ) from None


def _check_partial(path: Any, partial: Any, step: int) -> None:
    if not isinstance(partial, dict):
        raise ValueError(f"{path}: checkpoint partial sums must be a dict")
    if step == 0:
        return
    for key in ("loss", "correct", "seen"):
        value = partial.get(key)
        if not (_is_number(value) and value >= 0):
            raise ValueError(
                f"{path}: checkpoint partial sum {key!r} must be a finite number >= 0 (the "
                f"epoch is {step} batches in), got {value!r:.80}"
            )
    if partial["seen"] == 0:
        raise ValueError(f"{path}: checkpoint partial sums saw 0 examples after {step} batches")


def _check_history(path: Any, history: Any) -> None:
    ok = (
        isinstance(history, dict)
        and isinstance(history.get("history", {}), dict)
        and all(
            isinstance(v, list) and all(_is_number(x) for x in v)
            for v in history.get("history", {}).values()
        )
        and isinstance(history.get("epoch", []), list)
        and all(type(e) is int and e >= 0 for e in history.get("epoch", []))
        and isinstance(history.get("times", []), list)
        and all(_is_number(t) for t in history.get("times", []))
        and isinstance(history.get("params", {}), dict)
        and (history.get("stopped") is None or isinstance(history.get("stopped"), str))
    )
    if not ok:
        raise ValueError(f"{path}: checkpoint history is malformed: {str(history)[:80]}")


def _is_number(value: Any) -> TypeGuard[float]:
    return type(value) in (int, float) and math.isfinite(value)


def restore_model(model: Model, checkpoint: Checkpoint) -> None:
    """Load a checkpoint's weights, optimizer state and layer generators into ``model``.

    The architecture and the optimizer's class must match (``ValueError`` otherwise: Adam's
    moments mean nothing to SGD); the model must be compiled.
    """
    io.check_architecture(checkpoint.path, checkpoint.meta, model)
    _check_optimizer_class(checkpoint, model.optimizer)
    try:
        model.set_weights(checkpoint.weights)
        model.optimizer.set_state(checkpoint.optimizer_state)
    except ValueError as error:
        raise ValueError(f"{checkpoint.path}: {error}") from None
    owned = model_generators(model)
    for name, rng in owned.items():
        if name in checkpoint.generators:
            set_generator_state(rng, checkpoint.generators[name])


def _check_optimizer_class(checkpoint: Checkpoint, optimizer: Any) -> None:
    """Refuse to resume with another optimizer than the one whose state was saved."""
    config = checkpoint.meta.get("training_config") or {}
    saved = str((config.get("optimizer") or {}).get("class_name", ""))
    if saved.lower() != type(optimizer).__name__.lower():
        raise ValueError(
            f"{checkpoint.path}: the checkpoint holds the state of a {saved or 'unknown'} "
            f"optimizer, the model is compiled with {type(optimizer).__name__}; compile with "
            f"{saved or 'the same optimizer'} to resume (or start a new run)"
        )
