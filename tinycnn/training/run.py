"""Everything around the training loop of ``tinycnn.training.loop.fit``: one :class:`Run` per call.

The loop itself (``tinycnn/training/loop.py``) is forward, loss, backward, update. A
:class:`Run` does the rest, in the order the loop meets it:

- :meth:`Run.prepare`: check the arguments (a frozen :class:`FitOptions`), split off
  validation data, seed the generators, load a checkpoint to resume from;
- ``with run:`` Ctrl-C handling (the first one finishes the batch and saves), and the
  callbacks' ``on_train_begin``/``on_train_end``;
- :meth:`Run.epochs` and :meth:`Run.batches`: the epoch and batch numbers, the shuffled
  (and augmented) batches, early stopping;
- :meth:`Run.check_loss`, :meth:`Run.check_gradients` (before the update) and
  :meth:`Run.check_weights` (after it): a NaN or infinite loss, gradient or weight stops
  training with finite weights kept (:mod:`tinycnn.training.guard`);
- :meth:`Run.batch_end` and :meth:`Run.epoch_end`: metrics, progress lines, callbacks,
  validation, history, checkpoints.

Epoch and batch numbers in messages and progress lines are 1-based; in callbacks and
``History.epoch`` they are 0-based, as in Keras.
"""

from __future__ import annotations

import signal
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinycnn.protocol import Model, model_dtype
from tinycnn.saving import checkpoint as ckpt
from tinycnn.saving.durable import check_writable
from tinycnn.training import inputs
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import Callback, callback_states, restore_callback_states
from tinycnn.training.errors import NonFiniteLossError, TrainingInterrupted
from tinycnn.training.guard import FiniteGuard
from tinycnn.training.history import History
from tinycnn.training.inference import evaluate_arrays
from tinycnn.training.metrics import to_labels
from tinycnn.training.progress import Progress

SHUFFLE_KEY = "fit.shuffle"
AUGMENT_KEY = "fit.augment"


@dataclass(frozen=True)
class FitOptions:
    """``fit``'s options, as given (checked by :meth:`Run.prepare`); see
    :func:`tinycnn.training.loop.fit` for each."""

    epochs: int = 1
    batch_size: int = 64
    validation_split: float = 0.0
    validation_data: tuple[np.ndarray, np.ndarray] | None = None
    shuffle: bool = True
    seed: int | None = None
    callbacks: Iterable[Callback] = ()
    verbose: int = 1
    augment: bool | Augmenter | None = None
    checkpoint: str | Path | None = None
    resume: str | Path | None = None
    stream: Any = None


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Run:
    """One ``fit`` call's data, generators, position and reporting (see the module docstring)."""

    def __init__(
        self, model: Model, x: np.ndarray, y: np.ndarray, *, train_index: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None, epochs_total: int, batch_size: int,
        shuffle: bool, augment: Augmenter | None, seed: int, callbacks: list[Callback],
        progress: Progress, checkpoint: str | None, fit_config: dict[str, Any],
    ) -> None:  # fmt: skip
        self.model, self.x, self.y = model, x, y
        self.labels = to_labels(y)
        self.train_index, self.validation = train_index, validation  # rows of x; (x, y) or None
        self.epochs_total, self.batch_size, self.shuffle = epochs_total, batch_size, shuffle
        self.steps = -(-train_index.shape[0] // batch_size)  # batches per epoch
        self.augment, self.callbacks, self.progress = augment, callbacks, progress
        shuffle_seq, augment_seq = np.random.SeedSequence(seed).spawn(2)
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self.augment_rng = np.random.default_rng(augment_seq)
        self.checkpoint, self.fit_config = checkpoint, fit_config
        self.dtype = model_dtype(model)
        self.history = History({"epochs": epochs_total, "steps": self.steps})
        self.history.params.update(fit_config)
        self.start_epoch = self.start_step = 0  # where a resumed run starts
        self.partial: dict[str, float] = {}  # a resumed epoch's sums so far
        self.epoch = self.batch = 0  # the current position, 0-based
        self.sums: dict[str, float] = {}
        self.interrupted = False
        self._previous_handler: Any = None

    # -- setting up -----------------------------------------------------------------------
    @classmethod
    def prepare(cls, model: Model, x: Any, y: Any, options: FitOptions) -> Run:
        """Check the arguments, split off validation data, set up the generators, resume."""
        if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
            raise ValueError("the model is not compiled: call model.compile() before fit")
        resume, seed = options.resume, options.seed
        state = None if resume is None else ckpt.load_checkpoint(resume)
        if state is not None:
            saved_seed = state.fit_config.get("seed")
            if seed is not None and seed != saved_seed:
                raise ValueError(
                    f"{resume}: the checkpoint was made with seed {saved_seed}, not {seed}"
                )
            seed = saved_seed
        x, y = inputs.check_xy(model, x, y)
        callbacks, augmenter = inputs.check_fit_options(options.callbacks, options.augment)
        epochs = positive_int("epochs", options.epochs)
        batch_size = positive_int("batch_size", options.batch_size)
        validation_split, shuffle = options.validation_split, options.shuffle
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_split and options.validation_data is not None:
            raise ValueError("give validation_split or validation_data, not both")
        validation_data = inputs.check_validation_data(model, options.validation_data)
        if options.checkpoint is not None:  # before the first epoch's work, not after it
            check_writable(options.checkpoint, "checkpoint")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        labels = to_labels(y)
        train_index, validation = _split(x, y, labels, validation_split, validation_data, seed)
        if train_index.size == 0:
            raise ValueError(
                f"no training examples left (N={x.shape[0]}, split {validation_split})"
            )
        _check_batch_norm(model, batch_size, int(train_index.size))
        fit_config = {
            "seed": seed,
            "batch_size": batch_size,
            "shuffle": bool(shuffle),
            "validation_split": float(validation_split),
            "validation_samples": 0 if validation is None else int(validation[0].shape[0]),
            "train_samples": int(train_index.shape[0]),
            "labels_crc32": zlib.crc32(np.ascontiguousarray(labels, dtype=np.int64).tobytes()),
            "augment": None if augmenter is None else augmenter.get_config(),
        }
        run = cls(
            model, x, y, train_index=train_index, validation=validation, epochs_total=epochs,
            batch_size=batch_size, shuffle=bool(shuffle), augment=augmenter, seed=seed,
            callbacks=list(callbacks), progress=Progress(options.verbose, options.stream),
            checkpoint=None if options.checkpoint is None else str(options.checkpoint),
            fit_config=fit_config,
        )  # fmt: skip
        if state is not None:
            run._resume(state)
        return run

    def _resume(self, state: ckpt.Checkpoint) -> None:
        """Load a checkpoint into the model and the run, after checking it matches this run."""
        path, saved = state.path, state.fit_config
        mismatched = [
            f"{key}: checkpoint {saved.get(key)!r}, now {value!r}"
            for key, value in self.fit_config.items()
            if saved.get(key) != value
        ]
        if mismatched:
            raise ValueError(
                f"{path}: this checkpoint comes from a run with other settings or data "
                f"({'; '.join(mismatched)})"
            )
        if state.epoch >= self.epochs_total:
            raise ValueError(
                f"{path}: the checkpoint has already done {state.epoch} epochs; ask for more "
                f"than epochs={self.epochs_total} to continue"
            )
        self._check_position(state)
        ckpt.restore_model(self.model, state)
        try:
            restore_callback_states(self.callbacks, state.callbacks)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        ckpt.set_generator_state(self.shuffle_rng, state.generators[SHUFFLE_KEY])
        ckpt.set_generator_state(self.augment_rng, state.generators[AUGMENT_KEY])
        self.history = History.from_dict(state.history)
        self.history.params.update(self.fit_config, epochs=self.epochs_total)
        self.start_epoch, self.start_step, self.partial = state.epoch, state.step, state.partial
        self.progress.message(
            f"Resuming from {path} at epoch {state.epoch + 1}, batch {state.step + 1}/{self.steps}"
        )

    def _check_position(self, state: ckpt.Checkpoint) -> None:
        """The checkpoint's batch lies within an epoch of this run and its sums match it."""
        path = state.path
        if state.step >= self.steps:
            raise ValueError(
                f"{path}: the checkpoint is {state.step} batches into an epoch of {self.steps}; "
                "a damaged file"
            )
        if state.step and state.partial.get("seen") != state.step * self.batch_size:
            raise ValueError(
                f"{path}: the checkpoint's partial sums saw {state.partial.get('seen')!r} "
                f"examples, {state.step} batches of {self.batch_size} make "
                f"{state.step * self.batch_size}; a damaged file"
            )
        if len(state.history.get("epoch", [])) != state.epoch:
            raise ValueError(
                f"{path}: the checkpoint's history has {len(state.history.get('epoch', []))} "
                f"epochs, its position says {state.epoch}; a damaged file"
            )

    # -- the loop's frame -----------------------------------------------------------------
    def __enter__(self) -> Run:
        """Catch the first Ctrl-C (main thread only) and start the callbacks."""
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self.model.stop_training = False
        self._guard = FiniteGuard(self.model, self.epochs_total, self.steps, note=self._saved)
        self._last_loss: tuple[float, int, int] | None = None  # last finite loss, epoch, batch
        self.history.params["threads"] = self.model.runtime.thread_choice.as_dict()
        self.progress.message(f"Runs: {self.model.describe_runtime()}")
        for callback in self.callbacks:
            callback.set_model(self.model)
            callback.on_train_begin()
        self._logs: dict[str, float] = {}
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
        if kind is None:
            for callback in self.callbacks:
                callback.on_train_end(self._logs)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.interrupted:  # the second Ctrl-C interrupts at once
            signal.signal(signal.SIGINT, self._previous_handler)
            raise KeyboardInterrupt
        self.interrupted = True

    def epochs(self) -> Iterator[int]:
        """The epochs still to run (0-based), stopping early when a callback asks."""
        for epoch in range(self.start_epoch, self.epochs_total):
            self.epoch = epoch
            yield epoch
            if self.interrupted and epoch + 1 < self.epochs_total:  # Ctrl-C at the epoch's end
                self._stop_interrupted(epoch + 1, 0, None)
            if getattr(self.model, "stop_training", False):
                self.history.stopped = "early_stopping"
                return

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The epoch's shuffled (and augmented) batches ``(xb, yb)``, cast to the model dtype."""
        self._shuffle_state = ckpt.generator_state(self.shuffle_rng)
        n = self.train_index.shape[0]
        order = self.shuffle_rng.permutation(n) if self.shuffle else np.arange(n)
        first = self.start_step if epoch == self.start_epoch else 0
        self.sums = dict(self.partial) if first else {"loss": 0.0, "correct": 0.0, "seen": 0.0}
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch)
        self.progress.epoch_begin(epoch, self.epochs_total, self.steps, first)
        self._start = time.perf_counter() - self.sums.get("seconds", 0.0)
        for b in range(first, self.steps):
            self.batch = b
            self._rows = self.train_index[order[b * self.batch_size : (b + 1) * self.batch_size]]
            xb, yb = self.x[self._rows], self.y[self._rows]  # copies of this batch only
            if self.augment is not None:
                xb = self.augment(xb, self.augment_rng)
            yield xb.astype(self.dtype, copy=False), yb

    # -- each batch -----------------------------------------------------------------------
    def check_loss(self, loss: float) -> None:
        """Raise :class:`NonFiniteLossError` naming the epoch and batch if ``loss`` is NaN or inf.

        No weights need restoring: every update so far was checked finite (``check_weights``).
        """
        if np.isfinite(loss):
            self._last_loss = (float(loss), self.epoch, self.batch)  # formatted only if needed
            return
        self.history.stopped = "non_finite_loss"
        where = f"epoch {self.epoch + 1}/{self.epochs_total}, batch {self.batch + 1}/{self.steps}"
        if self._last_loss is None:
            kept = "no finite loss was seen in this run; the weights are as they were before it"
        else:
            kept = (
                "the model keeps the last weights, all finite (the finite loss "
                f"{self._last_loss[0]:.4g} was seen at epoch {self._last_loss[1] + 1}, "
                f"batch {self._last_loss[2] + 1})"
            )
        raise NonFiniteLossError(
            f"loss became {loss} at {where}: training stopped; {kept}{self._saved()}. Try a lower "
            "learning rate, and check the inputs for NaN or unscaled values.",
            self.epoch + 1,
            self.batch + 1,
            self.history,
        )

    def _saved(self) -> str:
        """What became of the checkpoint file, for the messages of a stop."""
        if self.checkpoint is not None and Path(self.checkpoint).exists():
            return f"; the last checkpoint {self.checkpoint} is untouched"
        if self.checkpoint is not None:
            return f"; no checkpoint had been written to {self.checkpoint} yet"
        return ""

    def check_gradients(self) -> None:
        """Before the update: stop if a gradient is NaN or inf (see ``training.guard``)."""
        self._guard.check_gradients(self.epoch, self.batch, self.history)

    def check_weights(self) -> None:
        """After the update: stop, back at a finite snapshot, if a weight is NaN or inf."""
        self._guard.check_weights(self.epoch, self.batch, self.history)

    def batch_end(self, loss: float, logits: np.ndarray) -> None:
        """Add the batch to the epoch's metrics, report it, and stop here after a Ctrl-C."""
        rows = self._rows
        self.sums["loss"] += loss * rows.shape[0]
        self.sums["correct"] += int(np.sum(np.argmax(logits, axis=1) == self.labels[rows]))
        self.sums["seen"] += rows.shape[0]
        logs = {
            "loss": self.sums["loss"] / self.sums["seen"],
            "accuracy": self.sums["correct"] / self.sums["seen"],
        }
        for callback in self.callbacks:
            callback.on_batch_end(self.batch, logs)
        self.progress.batch_end(self.batch + 1, logs)
        if self.interrupted:
            self.sums["seconds"] = time.perf_counter() - self._start
            self._stop_interrupted(self.epoch, self.batch + 1, self._shuffle_state)

    def epoch_end(self) -> None:
        """Validation, history, progress, callbacks and the checkpoint at the end of an epoch."""
        logs = {
            "loss": self.sums["loss"] / self.sums["seen"],
            "accuracy": self.sums["correct"] / self.sums["seen"],
        }
        if self.validation is not None:
            val = evaluate_arrays(self.model, *self.validation, max(self.batch_size, 256))
            logs.update({"val_loss": val["loss"], "val_accuracy": val["accuracy"]})
        self.history.append(self.epoch, logs, time.perf_counter() - self._start)
        self.progress.end(logs)
        for callback in self.callbacks:
            callback.on_epoch_end(self.epoch, logs)
        if self.checkpoint is not None:
            self._save(self.epoch + 1, 0, ckpt.generator_state(self.shuffle_rng), {})
        self._logs = logs

    # -- saving and stopping --------------------------------------------------------------
    def _save(self, epoch: int, step: int, shuffle_state: dict, partial: dict) -> None:
        """Write the run's state; ``shuffle_state``: the shuffling generator at the epoch start."""
        assert self.checkpoint is not None
        generators = {
            name: ckpt.generator_state(rng)
            for name, rng in ckpt.model_generators(self.model).items()
        }
        generators[SHUFFLE_KEY] = shuffle_state
        generators[AUGMENT_KEY] = ckpt.generator_state(self.augment_rng)
        ckpt.save_checkpoint(
            self.checkpoint, self.model, epoch=epoch, step=step, generators=generators,
            history=self.history.to_dict(), fit_config=self.fit_config, partial=partial,
            callbacks=callback_states(self.callbacks),
        )  # fmt: skip

    def _stop_interrupted(self, epoch: int, step: int, shuffle_state: dict | None) -> None:
        """Save (unless just saved at an epoch end: ``shuffle_state`` None) and raise."""
        self.history.stopped = "interrupted"
        if step:
            where = f"after epoch {epoch + 1}/{self.epochs_total}, batch {step}/{self.steps}"
        else:
            where = f"at the end of epoch {epoch}/{self.epochs_total}"
        if self.checkpoint is not None:
            if shuffle_state is not None:
                self._save(epoch, step, shuffle_state, self.sums)
            told = (
                f"checkpoint saved to {self.checkpoint}; continue with resume={self.checkpoint!r}"
            )
        else:
            told = "no checkpoint path was given, so nothing was saved; the model holds its weights"
        raise TrainingInterrupted(
            f"training interrupted {where}: {told}", self.checkpoint, self.history
        )


def _check_batch_norm(model: Model, batch_size: int, train_samples: int) -> None:
    """Before any work: refuse a batch of 1 example where a BatchNormalization layer would see
    one value per channel (after Dense or Flatten), which it refuses in training."""
    from tinycnn.layers.batchnorm import BatchNormalization

    smallest = min(batch_size, train_samples % batch_size or batch_size)
    if smallest > 1 or not getattr(model, "built", False):
        return
    built: Any = model  # a Sequential: its input and output shapes are known
    shapes = [built.input_shape, *built.output_shapes[:-1]]
    for layer, shape in zip(model.layers, shapes, strict=True):
        if isinstance(layer, BatchNormalization) and int(np.prod(shape[:-1])) == 1:
            where = (
                "batch_size=1"
                if batch_size == 1
                else f"{train_samples} training examples in batches of {batch_size} leave a last "
                "batch of 1"
            )
            raise ValueError(
                f"{where}: {layer.describe()} would see one value per channel, whose variance "
                "is 0 (no gradient would reach the layers below); choose another batch_size"
            )


def _split(x, y, labels, validation_split, validation_data, seed):
    """Training row indices, and the validation arrays (or None)."""
    N = x.shape[0]
    if validation_data is not None:  # checked by inputs.check_validation_data
        return np.arange(N), validation_data
    if not validation_split:
        return np.arange(N), None
    from tinycnn.data import stratified_split

    # Splitting the row numbers keeps x uncopied; stratified by class, seeded.
    (train_index, _), (val_index, _) = stratified_split(
        np.arange(N), labels, validation_split, seed
    )
    return train_index, (x[val_index], y[val_index])
