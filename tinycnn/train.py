"""Training and inference loops: ``fit``, ``evaluate``, ``predict``, ``predict_classes``.

``Sequential.fit/evaluate/predict/predict_classes`` delegate here. One training step is::

    logits = model.forward(xb, training=True, logits=True, fused=True)  # (B, K), pre-softmax
    loss = model.loss.forward(logits, yb)                                # batch mean
    dlogits = model.loss.backward()                                      # (B, K) = (p - y) / B
    model.backward(dlogits, input_grad=False)                            # every layer's grads
    model.optimizer.update(params, grads)                                # in place

``fused=True`` runs each Conv2D(relu) + MaxPool2D pair as one step on the Numba backend
(``tinycnn.fast.fused``); inference uses it too.

Reproducibility: ``seed`` fixes the validation split, the shuffling order and the augmentation;
Dropout masks come from the layers' own generators (the model's seed). When ``seed`` is None a
fresh one is drawn and recorded in ``history.params["seed"]``, so any run can be repeated.

Failures
--------
- A NaN or infinite loss raises :class:`NonFiniteLossError` (a :class:`TrainingError` and a
  ``FloatingPointError``) at once, naming the epoch and batch; the model is left with the last
  good weights (those that produced the last finite loss) and the last checkpoint file is kept.
- Ctrl-C (SIGINT) during ``fit`` finishes the current batch, writes a checkpoint there (when
  ``checkpoint`` is given) and raises :class:`TrainingInterrupted` (a ``KeyboardInterrupt``)
  whose message says where the checkpoint is. A second Ctrl-C interrupts at once.

Epoch and batch numbers in messages and progress lines are 1-based; in callbacks and
``History.epoch`` they are 0-based, as in Keras.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tinycnn.saving import checkpoint as ckpt
from tinycnn.training import inputs
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import Callback
from tinycnn.training.history import History
from tinycnn.training.metrics import to_labels
from tinycnn.training.progress import Progress

Array = NDArray[np.floating]


class TrainingError(RuntimeError):
    """Training could not continue; ``history`` holds what was recorded until then."""

    def __init__(self, message: str, history: History | None = None) -> None:
        super().__init__(message)
        self.history = history


class NonFiniteLossError(TrainingError, FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` and ``batch`` are 1-based."""

    def __init__(self, message: str, epoch: int, batch: int, history: History) -> None:
        super().__init__(message, history)
        self.epoch = epoch
        self.batch = batch


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``fit`` after a batch; ``checkpoint`` is where the state was saved."""

    def __init__(self, message: str, checkpoint: str | None, history: History) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.history = history

    def __str__(self) -> str:
        return str(self.args[0])


# -- inputs ---------------------------------------------------------------------------------
def _model_dtype(model: Any) -> np.dtype:
    params = model.params_and_grads()
    return params[0][1].dtype if params else np.dtype(np.float32)


def _check_xy(model: Any, x: Any, y: Any, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    x = inputs.check_inputs(model, x, name)
    return x, inputs.check_labels(model, y, x.shape[0], name[:-1] + "y")


def _check_compiled(model: Any) -> None:
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise ValueError("the model is not compiled: call model.compile() before fit")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# -- inference ------------------------------------------------------------------------------
def _batch_logits(model: Any, x: np.ndarray, start: int, stop: int, dtype: np.dtype) -> Array:
    xb = x[start:stop]
    return model.forward(xb.astype(dtype, copy=False), training=False, logits=True, fused=True)


def predict(model: Any, x: Array, batch_size: int = 256) -> Array:
    """Class probabilities for every example, computed in batches (inference mode).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
        Floating-point inputs.
    batch_size : int

    Returns
    -------
    p : ndarray, shape (N, K)
        ``softmax(logits)``, each row sums to 1 (also for a model without a final softmax).
    """
    from tinycnn.losses import softmax

    x = inputs.check_inputs(model, x)
    batch_size = _positive_int("batch_size", batch_size)
    dtype = _model_dtype(model)
    out = None
    for start in range(0, x.shape[0], batch_size):
        p = softmax(_batch_logits(model, x, start, start + batch_size, dtype))
        if out is None:
            out = np.empty((x.shape[0], p.shape[1]), dtype=p.dtype)
        out[start : start + p.shape[0]] = p
    if out is None:
        raise ValueError(f"predict needs at least one example, got x of shape {x.shape}")
    return out


def predict_classes(model: Any, x: Array, batch_size: int = 256) -> NDArray[np.int64]:
    """The most probable class of every example, shape (N,)."""
    x = inputs.check_inputs(model, x)
    batch_size = _positive_int("batch_size", batch_size)
    dtype = _model_dtype(model)
    out = np.empty(x.shape[0], dtype=np.int64)
    for start in range(0, x.shape[0], batch_size):
        logits = _batch_logits(model, x, start, start + batch_size, dtype)
        out[start : start + logits.shape[0]] = np.argmax(logits, axis=1)
    return out


def evaluate(
    model: Any,
    x: Array,
    y: np.ndarray,
    batch_size: int = 256,
    verbose: int = 0,
    return_dict: bool = False,
    stream: Any = None,
) -> list[float] | dict[str, float]:
    """Mean loss and accuracy on ``(x, y)`` in inference mode.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    y : ndarray, shape (N,) of int labels or (N, K) one-hot
    batch_size : int
    verbose : {0, 1, 2}
        Print one Keras-style line (``313/313 - 1.2s - loss: ... - accuracy: ...``).
    return_dict : bool
        Return ``{"loss": ..., "accuracy": ...}`` instead of ``[loss, accuracy]`` (Keras's order).
    stream : text stream, optional
        Where progress goes (default ``sys.stdout``).
    """
    x, y = _check_xy(model, x, y)
    batch_size = _positive_int("batch_size", batch_size)
    progress = Progress(verbose, stream)
    progress.begin(-(-x.shape[0] // batch_size))
    logs = _evaluate_arrays(model, x, y, batch_size)
    progress.end(logs)
    return logs if return_dict else [logs["loss"], logs["accuracy"]]


def _evaluate_arrays(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict:
    from tinycnn.losses import SoftmaxCrossEntropy

    loss_fn = getattr(model, "loss", None) or SoftmaxCrossEntropy()
    dtype = _model_dtype(model)
    labels = to_labels(y)
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        logits = _batch_logits(model, x, start, start + batch_size, dtype)
        n = logits.shape[0]
        total_loss += float(loss_fn.forward(logits, y[start : start + n])) * n
        correct += int(np.sum(np.argmax(logits, axis=1) == labels[start : start + n]))
    N = max(x.shape[0], 1)
    return {"loss": total_loss / N, "accuracy": correct / N}


# -- the training loop ----------------------------------------------------------------------
@dataclass
class _Run:
    """Everything one ``fit`` call works with (kept together so helpers stay short)."""

    model: Any
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    train_index: np.ndarray  # rows of x used for training
    validation: tuple[np.ndarray, np.ndarray] | None
    epochs: int
    batch_size: int
    shuffle: bool
    augment: Augmenter | None
    shuffle_rng: np.random.Generator
    augment_rng: np.random.Generator
    callbacks: list[Callback]
    progress: Progress
    history: History
    checkpoint: str | None
    fit_config: dict[str, Any]
    dtype: np.dtype
    start_epoch: int = 0
    start_step: int = 0
    partial: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def steps(self) -> int:
        return -(-self.train_index.shape[0] // self.batch_size)


def fit(
    model: Any,
    x: Array,
    y: np.ndarray,
    epochs: int = 1,
    batch_size: int = 64,
    validation_split: float = 0.0,
    validation_data: tuple[Array, np.ndarray] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    callbacks: Iterable[Callback] = (),
    verbose: int = 1,
    augment: bool | Augmenter | None = None,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    stream: Any = None,
) -> History:
    """Train a compiled model with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        Built and compiled (``model.compile(optimizer, loss)``).
    x : ndarray, shape (N, H, W, C)
        Floating-point inputs (scale uint8 pixels first).
    y : ndarray, shape (N,) of int labels or (N, K) one-hot
    epochs : int
        Total number of epochs (a resumed run counts the epochs already done).
    batch_size : int
        B; the last batch of an epoch holds the remainder.
    validation_split : float
        Fraction of ``(x, y)`` held out for validation, stratified by class and drawn with
        ``seed``; never taken from any other data. Exclusive with ``validation_data``.
    validation_data : (x_val, y_val), optional
        Explicit validation set.
    shuffle : bool
        Visit the training examples in a new random order every epoch.
    seed : int, optional
        Seeds the split, shuffling and augmentation (see the module docstring).
    callbacks : iterable of Callback
    verbose : {0, 1, 2}
        0 silent, 1 progress bar on a terminal (plain lines otherwise), 2 one line per epoch.
    augment : bool or Augmenter, optional
        Random shifts/rotations per training batch; True means ``Augmenter()``.
    checkpoint : str or Path, optional
        Write a training checkpoint there after every epoch and on Ctrl-C.
    resume : str or Path, optional
        Continue from this checkpoint (same data, batch size, seed and split required).
    stream : text stream, optional
        Where progress goes (default ``sys.stdout``).

    Returns
    -------
    History
        ``history.history["loss" | "accuracy" | "val_loss" | "val_accuracy"]`` per epoch.

    Raises
    ------
    ValueError
        Bad arguments, or a checkpoint that does not match this run.
    NonFiniteLossError
        The loss became NaN/inf (weights are rolled back to the last good ones).
    TrainingInterrupted
        Ctrl-C; the message says where the checkpoint is.
    """
    state = None
    if resume is not None:
        state = ckpt.load_checkpoint(resume)
        saved_seed = state.fit_config.get("seed")
        if seed is not None and seed != saved_seed:
            raise ValueError(
                f"{resume}: the checkpoint was made with seed {saved_seed}, not {seed}"
            )
        seed = saved_seed
    run = _prepare(
        model, x, y, epochs, batch_size, validation_split, validation_data, shuffle, seed,
        callbacks, verbose, augment, checkpoint, stream,
    )  # fmt: skip
    if state is not None:
        _resume(run, state)
    with _SigintFlag(run):
        _train(run)
    return run.history


def _prepare(
    model, x, y, epochs, batch_size, validation_split, validation_data, shuffle, seed,
    callbacks, verbose, augment, checkpoint, stream,
) -> _Run:  # fmt: skip
    """Check the arguments, split off validation data and set up the generators."""
    _check_compiled(model)
    x, y = _check_xy(model, x, y)
    callbacks, augmenter = inputs.check_fit_options(callbacks, augment)
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if validation_split and validation_data is not None:
        raise ValueError("give validation_split or validation_data, not both")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
    labels = to_labels(y)
    validation_data = inputs.check_validation_data(model, validation_data)
    train_index, validation = _split(x, y, labels, validation_split, validation_data, seed)
    if train_index.size == 0:
        raise ValueError(f"no training examples left (N={x.shape[0]}, split {validation_split})")
    shuffle_seq, augment_seq = np.random.SeedSequence(seed).spawn(2)
    fit_config = {
        "seed": seed,
        "batch_size": batch_size,
        "shuffle": bool(shuffle),
        "validation_split": float(validation_split),
        "validation_samples": 0 if validation is None else int(validation[0].shape[0]),
        "train_samples": int(train_index.shape[0]),
        "labels_crc32": _crc32(labels),
        "augment": None if augmenter is None else augmenter.get_config(),
    }
    history = History({"epochs": epochs, "steps": -(-train_index.shape[0] // batch_size)})
    history.params.update(fit_config)
    return _Run(
        model=model, x=x, y=y, labels=labels, train_index=train_index, validation=validation,
        epochs=epochs, batch_size=batch_size, shuffle=bool(shuffle), augment=augmenter,
        shuffle_rng=np.random.default_rng(shuffle_seq),
        augment_rng=np.random.default_rng(augment_seq),
        callbacks=list(callbacks), progress=Progress(verbose, stream), history=history,
        checkpoint=None if checkpoint is None else str(checkpoint), fit_config=fit_config,
        dtype=_model_dtype(model),
    )  # fmt: skip


def _crc32(labels: np.ndarray) -> int:
    import zlib

    return zlib.crc32(np.ascontiguousarray(labels, dtype=np.int64).tobytes())


def _split(x, y, labels, validation_split, validation_data, seed):
    """Training row indices, and the validation arrays (or None)."""
    N = x.shape[0]
    if validation_data is not None:
        return np.arange(N), validation_data
    if not validation_split:
        return np.arange(N), None
    from tinycnn.data import stratified_split

    # Splitting the row numbers keeps x uncopied; stratified by class, seeded.
    (train_index, _), (val_index, _) = stratified_split(
        np.arange(N), labels, validation_split, seed
    )
    return train_index, (x[val_index], y[val_index])


def _resume(run: _Run, state: ckpt.Checkpoint) -> None:
    """Load a checkpoint into the model and the run, after checking it matches this run."""
    path, saved = state.path, state.fit_config
    mismatched = [
        f"{key}: checkpoint {saved.get(key)!r}, now {value!r}"
        for key, value in run.fit_config.items()
        if saved.get(key) != value
    ]
    if mismatched:
        raise ValueError(
            f"{path}: this checkpoint comes from a run with other settings or data "
            f"({'; '.join(mismatched)})"
        )
    if state.epoch >= run.epochs:
        raise ValueError(
            f"{path}: the checkpoint has already done {state.epoch} epochs; ask for more than "
            f"epochs={run.epochs} to continue"
        )
    ckpt.restore_model(run.model, state)
    ckpt.set_generator_state(run.shuffle_rng, state.generators[SHUFFLE_KEY])
    ckpt.set_generator_state(run.augment_rng, state.generators[AUGMENT_KEY])
    run.history = History.from_dict(state.history)
    run.history.params.update(run.fit_config, epochs=run.epochs)
    run.start_epoch, run.start_step, run.partial = state.epoch, state.step, state.partial
    run.progress.message(
        f"Resuming from {path} at epoch {state.epoch + 1}, batch {state.step + 1}/{run.steps}"
    )


def _save_checkpoint(run: _Run, epoch: int, step: int, shuffle_state: dict, partial: dict) -> None:
    """Write the run's state; ``shuffle_state`` is the shuffling generator at the epoch start."""
    assert run.checkpoint is not None
    generators = {
        name: ckpt.generator_state(rng) for name, rng in ckpt.model_generators(run.model).items()
    }
    generators[SHUFFLE_KEY] = shuffle_state
    generators[AUGMENT_KEY] = ckpt.generator_state(run.augment_rng)
    ckpt.save_checkpoint(
        run.checkpoint,
        run.model,
        epoch=epoch,
        step=step,
        generators=generators,
        history=run.history.to_dict(),
        fit_config=run.fit_config,
        partial=partial,
    )


class _SigintFlag:
    """While active, the first Ctrl-C only sets ``run.interrupted``; a second one interrupts.

    Signal handlers can only be installed from the main thread; elsewhere Ctrl-C keeps its
    default behaviour.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.run.interrupted:
            signal.signal(signal.SIGINT, self.previous)
            raise KeyboardInterrupt
        self.run.interrupted = True

    def __enter__(self) -> _SigintFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _GoodWeights:
    """A copy of the weights that produced the last finite loss, refreshed every step."""

    def __init__(self, params: Sequence[np.ndarray]) -> None:
        self.copies = [p.copy() for p in params]
        self.where: str | None = None  # "epoch e, batch b" of that loss, None before any
        self.loss = float("nan")

    def remember(self, params: Sequence[np.ndarray], where: str, loss: float) -> None:
        for copy, p in zip(self.copies, params, strict=True):
            np.copyto(copy, p)
        self.where, self.loss = where, loss

    def restore(self, params: Sequence[np.ndarray]) -> None:
        for copy, p in zip(self.copies, params, strict=True):
            np.copyto(p, copy)


def _train(run: _Run) -> None:
    model = run.model
    model.stop_training = False
    for callback in run.callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    good = _GoodWeights([p for _, p, _ in model.params_and_grads()])
    logs: dict[str, float] = {}
    for epoch in range(run.start_epoch, run.epochs):
        first = run.start_step if epoch == run.start_epoch else 0
        logs = _run_epoch(run, epoch, first, good)
        if run.interrupted and epoch + 1 < run.epochs:  # Ctrl-C during validation/saving
            _stop_interrupted(run, epoch + 1, 0, None, {})
        if getattr(model, "stop_training", False):
            run.history.stopped = "early_stopping"
            break
    for callback in run.callbacks:
        callback.on_train_end(logs)


def _run_epoch(run: _Run, epoch: int, first: int, good: _GoodWeights) -> dict[str, float]:
    """One epoch from batch ``first`` on: steps, validation, callbacks, history, checkpoint."""
    shuffle_state = ckpt.generator_state(run.shuffle_rng)
    n = run.train_index.shape[0]
    order = run.shuffle_rng.permutation(n) if run.shuffle else np.arange(n)
    sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0} if first == 0 else dict(run.partial)
    for callback in run.callbacks:
        callback.on_epoch_begin(epoch)
    run.progress.epoch_begin(epoch, run.epochs, run.steps, first)
    start = time.perf_counter() - sums.get("seconds", 0.0)
    for b in range(first, run.steps):
        rows = run.train_index[order[b * run.batch_size : (b + 1) * run.batch_size]]
        loss, correct = _step(run, rows, epoch, b, good)
        sums["loss"] += loss * rows.shape[0]
        sums["correct"] += correct
        sums["seen"] += rows.shape[0]
        logs = {"loss": sums["loss"] / sums["seen"], "accuracy": sums["correct"] / sums["seen"]}
        for callback in run.callbacks:
            callback.on_batch_end(b, logs)
        run.progress.batch_end(b + 1, logs)
        if run.interrupted:
            sums["seconds"] = time.perf_counter() - start
            _stop_interrupted(run, epoch, b + 1, shuffle_state, sums)
    logs = {"loss": sums["loss"] / sums["seen"], "accuracy": sums["correct"] / sums["seen"]}
    if run.validation is not None:
        val = _evaluate_arrays(run.model, *run.validation, max(run.batch_size, 256))
        logs.update({"val_loss": val["loss"], "val_accuracy": val["accuracy"]})
    run.history.append(epoch, logs, time.perf_counter() - start)
    run.progress.end(logs)
    for callback in run.callbacks:
        callback.on_epoch_end(epoch, logs)
    if run.checkpoint is not None:
        _save_checkpoint(run, epoch + 1, 0, ckpt.generator_state(run.shuffle_rng), {})
    return logs


def _step(run: _Run, rows: np.ndarray, epoch: int, b: int, good: _GoodWeights) -> tuple:
    """Forward, loss, backward and update on the examples ``rows``; (loss, number correct)."""
    model = run.model
    xb, yb = run.x[rows], run.y[rows]  # copies of this batch only
    if run.augment is not None:
        xb = run.augment(xb, run.augment_rng)
    # Overflow and NaN are reported by the loss check below, not as NumPy warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        xb = xb.astype(run.dtype, copy=False)
        logits = model.forward(xb, training=True, logits=True, fused=True)
        loss = float(model.loss.forward(logits, yb))
    if not np.isfinite(loss):
        _stop_non_finite(run, epoch, b, loss, good)
    with np.errstate(over="ignore", invalid="ignore"):
        model.backward(model.loss.backward(), input_grad=False)
    triples = model.params_and_grads()
    params = [p for _, p, _ in triples]
    good.remember(params, f"epoch {epoch + 1}, batch {b + 1}", loss)
    model.optimizer.update(params, [g for _, _, g in triples])
    correct = int(np.sum(np.argmax(logits, axis=1) == run.labels[rows]))
    return loss, correct


def _stop_non_finite(run: _Run, epoch: int, b: int, loss: float, good: _GoodWeights) -> None:
    good.restore([p for _, p, _ in run.model.params_and_grads()])
    run.history.stopped = "non_finite_loss"
    where = f"epoch {epoch + 1}/{run.epochs}, batch {b + 1}/{run.steps}"
    if good.where is None:
        kept = "no finite loss was seen in this run; the weights are as they were before it"
    else:
        kept = (
            "the model keeps the last good weights (those that gave the finite loss "
            f"{good.loss:.4g} at {good.where})"
        )
    saved = ""
    if run.checkpoint is not None and Path(run.checkpoint).exists():
        saved = f"; the last checkpoint {run.checkpoint} is untouched"
    elif run.checkpoint is not None:
        saved = f"; no checkpoint had been written to {run.checkpoint} yet"
    raise NonFiniteLossError(
        f"loss became {loss} at {where}: training stopped; {kept}{saved}. Try a lower "
        "learning rate, and check the inputs for NaN or unscaled values.",
        epoch + 1,
        b + 1,
        run.history,
    )


def _stop_interrupted(
    run: _Run, epoch: int, step: int, shuffle_state: dict | None, sums: dict
) -> None:
    """Save (unless just saved at an epoch end: ``shuffle_state`` None) and raise."""
    run.history.stopped = "interrupted"
    if step:
        where = f"after epoch {epoch + 1}/{run.epochs}, batch {step}/{run.steps}"
    else:
        where = f"at the end of epoch {epoch}/{run.epochs}"
    if run.checkpoint is not None:
        if shuffle_state is not None:
            _save_checkpoint(run, epoch, step, shuffle_state, sums)
        told = f"checkpoint saved to {run.checkpoint}; continue with resume={run.checkpoint!r}"
    else:
        told = "no checkpoint path was given, so nothing was saved; the model holds its weights"
    raise TrainingInterrupted(f"training interrupted {where}: {told}", run.checkpoint, run.history)


SHUFFLE_KEY = "fit.shuffle"
AUGMENT_KEY = "fit.augment"
