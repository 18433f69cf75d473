"""``tinycnn train``: train the seed CNN (or the dense baseline) on MNIST, print test accuracy.

The validation set is split off the training set (stratified, seeded); the test set is only used
once, at the end. Without ``--data`` the full MNIST set is used when it can be found, otherwise
the embedded subset (with a notice). A training checkpoint is written after every epoch (by
default beside ``--out``), so Ctrl-C or a crash loses at most one epoch: continue with
``--resume``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tinycnn.cli.common import MODELS, add_data_arguments, build_model, load_data, positive
from tinycnn.model import Sequential

HELP = "train a model on MNIST and print its test accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options mirror ``fit``'s arguments."""
    parser.add_argument(
        "--model", choices=MODELS, default="cnn",
        help="architecture (cnn); cnn_bn and cnn_bn_deep train with the zoo's recipe "
        "(augmentation, cosine learning-rate schedule, 15 epochs)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=positive(int), help="epochs (10, recipes 15)")
    parser.add_argument("--batch-size", type=positive(int), default=64, help="batch size (64)")
    parser.add_argument(
        "--lr", type=positive(float), help="Adam learning rate (1e-3; not with a recipe)"
    )
    parser.add_argument("--augment", action="store_true", help="random shifts and rotations")
    parser.add_argument(
        "--jit-compile",
        action="store_true",
        help="run Conv2D(relu) + MaxPool2D pairs as fused steps (direct, Winograd; Numba "
        "backend): faster, equal to float32 rounding; without it every layer's own "
        "forward/backward runs",
    )
    parser.add_argument("--seed", type=int, help="seed for weights, split, order (random)")
    parser.add_argument(
        "--validation-split", type=float, default=0.1, help="fraction held out (0.1)"
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--limit", type=positive(int), metavar="N", help="train on the first N images only"
    )
    parser.add_argument("--out", type=Path, default=Path("model.npz"), help="model file")
    parser.add_argument(
        "--checkpoint", type=Path, help="training checkpoint (default: OUT with .ckpt.npz)"
    )
    parser.add_argument("--resume", type=Path, metavar="CKPT", help="continue from a checkpoint")
    parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=1, help="progress output (1)"
    )


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate on the test set; 130 after Ctrl-C (checkpoint kept)."""
    import numpy as np

    from tinycnn.cli import CommandError, check_output
    from tinycnn.training.loop import TrainingError, TrainingInterrupted

    if not 0 <= args.validation_split < 1:
        raise CommandError(f"--validation-split must be in [0, 1), got {args.validation_split}")
    if args.resume is not None and not args.resume.is_file():
        raise FileNotFoundError(f"--resume {args.resume}: no such file")
    check_output(args.out, "--out")
    check_output(args.checkpoint or _checkpoint_path(args.out), "--checkpoint")
    seed = args.seed if args.seed is not None else _resume_seed(args.resume)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    (x_train, y_train), (x_test, y_test) = load_data(args)
    if args.limit is not None:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    n_val = round(args.validation_split * len(x_train))
    print(
        f"Data: {len(x_train) - n_val:,} training and {n_val:,} validation images (split from "
        f"the training set, stratified, seed {seed}); {len(x_test):,} test images"
    )
    model = build_model(args.model, seed)
    epochs, augment = _compile(model, args, len(x_train) - n_val)
    checkpoint = args.checkpoint or _checkpoint_path(args.out)
    print(f"Model: {args.model}, {model.count_params():,} parameters; checkpoint {checkpoint}")
    start = time.perf_counter()
    try:
        history = model.fit(
            x_train, y_train, epochs=epochs, batch_size=args.batch_size,
            validation_split=args.validation_split, seed=seed, verbose=args.verbose,
            augment=augment, checkpoint=checkpoint, resume=args.resume,
        )  # fmt: skip
    except TrainingInterrupted as stop:
        print(f"\ntinycnn train: {stop}", file=sys.stderr)
        print(f"tinycnn train: resume with --resume {checkpoint}", file=sys.stderr)
        return 130
    except TrainingError as error:
        raise CommandError(str(error)) from None
    model.save(str(args.out), history)
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"Saved {args.out} ({time.perf_counter() - start:.0f}s of training)")
    print(f"Test accuracy: {accuracy:.2%} (loss {loss:.4f}) on {len(x_test):,} test images")
    return 0


def _checkpoint_path(out: Path) -> Path:
    """The default checkpoint file beside ``--out``: ``model.npz`` -> ``model.ckpt.npz``."""
    return out.with_name(out.stem + ".ckpt.npz")


def _compile(model: Sequential, args: argparse.Namespace, train_samples: int) -> tuple[int, Any]:
    """Compile with Adam(--lr), or with the zoo recipe's optimizer; (epochs, augment)."""
    from tinycnn.cli import CommandError
    from tinycnn.optim import Adam
    from tinycnn.zoo import RECIPE_MODELS, recipe

    if args.model not in RECIPE_MODELS:
        model.compile(optimizer=Adam(args.lr or 1e-3), jit_compile=args.jit_compile)
        return args.epochs or 10, args.augment
    if args.lr is not None:
        raise CommandError(f"--model {args.model} follows its recipe's schedule; drop --lr")
    plan = recipe(args.model, train_samples, args.epochs)
    model.compile(optimizer=plan.optimizer, jit_compile=args.jit_compile)
    print(f"Recipe: {plan.epochs} epochs, augmentation, Adam with {plan.optimizer.schedule}")
    return plan.epochs, plan.augment


def _resume_seed(resume: Path | None) -> int | None:
    """The seed recorded in a checkpoint, so ``--resume`` alone repeats the run's settings."""
    if resume is None:
        return None
    from tinycnn.saving.checkpoint import load_checkpoint

    return load_checkpoint(resume).fit_config.get("seed")
