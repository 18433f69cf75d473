"""``tinycnn gradcheck``: check every built-in layer's backward pass against central differences.

``--layer module:Class`` (or ``path/to/file.py:Class``) checks a layer of your own instead,
built as ``Class(**json.loads(--config))`` for an input of ``--input-shape``.

Each case builds one layer (or the loss, or a miniature of the seed model) on a tiny random
input and runs ``tinycnn.testing.gradcheck.gradcheck`` in float64; the report of each is printed and
the
exit status is 1 if any check fails. Dropout runs in training mode with its generator rewound
before every forward pass, so all evaluations share one mask.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

HELP = "check every built-in layer's gradients against numerical differences (float64)"

Case = tuple[Any, np.ndarray, dict[str, Any]]  # (target, x, extra gradcheck arguments)

# A loss (or a model with one) is a single scalar: no per-output terms absorb rounding noise,
# so these cases use a larger eps (rounding ~1e-16/eps against truncation ~eps²).
SCALAR_EPS = 3e-5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tinycnn gradcheck``."""
    parser.add_argument("--seed", type=int, default=0, help="seed of inputs and weights")
    parser.add_argument("--eps", type=float, default=None, help="perturbation for every case")
    parser.add_argument(
        "--tolerance", type=float, default=1e-6, help="largest relative error that passes"
    )
    parser.add_argument(
        "--layer",
        metavar="MODULE:CLASS",
        help="check your own layer instead, e.g. my_layers:LeakyReLU or my_layers.py:LeakyReLU",
    )
    parser.add_argument(
        "--config", default="{}", help="JSON keyword arguments for --layer's class ({})"
    )
    parser.add_argument(
        "--input-shape",
        default="2,5,6,3",
        help="comma-separated input shape N,... for --layer (2,5,6,3)",
    )
    parser.add_argument("--training", action="store_true", help="run --layer in training mode")


def _built(layer: Any, input_shape: tuple[int, ...], rng: np.random.Generator) -> Any:
    layer.build(input_shape, rng)
    return layer


def _conv2d(filters, kernel_size, x_shape, **kwargs) -> Callable[[np.random.Generator], Case]:
    def make(rng: np.random.Generator) -> Case:
        from tinycnn.layers.conv2d import Conv2D

        layer = _built(Conv2D(filters, kernel_size, **kwargs), x_shape[1:], rng)
        layer.params["b"] = rng.standard_normal(filters).astype(np.float32)
        return layer, rng.standard_normal(x_shape), {}

    return make


def _maxpool2d(x_shape, **kwargs) -> Callable[[np.random.Generator], Case]:
    def make(rng: np.random.Generator) -> Case:
        from tinycnn.layers.maxpool2d import MaxPool2D

        return _built(MaxPool2D(**kwargs), x_shape[1:], rng), rng.standard_normal(x_shape), {}

    return make


def _dense(rng: np.random.Generator) -> Case:
    from tinycnn.layers.dense import Dense

    return _built(Dense(4, activation="relu"), (6,), rng), rng.standard_normal((3, 6)), {}


def _simple(class_name: str, x_shape: tuple[int, ...], **kwargs) -> Callable[..., Case]:
    def make(rng: np.random.Generator) -> Case:
        import tinycnn.layers as layers

        layer = _built(getattr(layers, class_name)(**kwargs), x_shape[1:], rng)
        return layer, rng.standard_normal(x_shape), {"training": True}

    return make


def _loss(rng: np.random.Generator) -> Case:
    from tinycnn.losses import SoftmaxCrossEntropy

    logits, y = rng.standard_normal((4, 5)), rng.integers(0, 5, size=4)
    return SoftmaxCrossEntropy(), logits, {"y": y, "eps": SCALAR_EPS}


def _mini_seed_model(rng: np.random.Generator) -> Case:
    from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
    from tinycnn.losses import SoftmaxCrossEntropy
    from tinycnn.model import Sequential

    layers = [
        Conv2D(3, 3, activation="relu"),
        MaxPool2D(2),
        Conv2D(4, 3, activation="relu"),
        MaxPool2D(2),
        Flatten(),
        Dense(8, activation="relu"),
        Dropout(0.5, seed=int(rng.integers(2**31))),
        Dense(5, activation="softmax"),
    ]
    model = Sequential(layers, input_shape=(14, 13, 1), seed=int(rng.integers(2**31)))
    x, y = rng.standard_normal((3, 14, 13, 1)), rng.integers(0, 5, size=3)
    options = {"y": y, "loss": SoftmaxCrossEntropy(), "training": True, "eps": SCALAR_EPS}
    return model, x, options


CASES: list[tuple[str, Callable[[np.random.Generator], Case]]] = [
    ("Conv2D, valid, 3x2 kernel", _conv2d(3, (3, 2), (2, 6, 5, 2))),
    ("Conv2D, same, strides (2, 1)",
     _conv2d(2, (2, 3), (2, 5, 6, 3), strides=(2, 1), padding="same")),
    ("Conv2D, valid, strides 2, relu", _conv2d(3, 3, (2, 7, 6, 2), strides=2, activation="relu")),
    ("MaxPool2D, 2x2", _maxpool2d((2, 6, 5, 2))),
    ("MaxPool2D, 3x3, strides 2, same (overlapping)",
     _maxpool2d((2, 7, 6, 2), pool_size=3, strides=2, padding="same")),
    ("Dense, relu", _dense),
    ("Flatten", _simple("Flatten", (2, 3, 4, 2))),
    ("ReLU", _simple("ReLU", (3, 7))),
    ("Softmax", _simple("Softmax", (3, 5))),
    ("Dropout(0.5), training, fixed mask", _simple("Dropout", (3, 8), rate=0.5, seed=1)),
    ("SoftmaxCrossEntropy", _loss),
    ("miniature seed model + loss, training", _mini_seed_model),
]  # fmt: skip


def user_class(spec: str) -> type:
    """The class named by ``module:Class`` or ``path/to/file.py:Class``."""
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    from tinycnn.cli import CommandError

    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise CommandError(f"--layer expects MODULE:CLASS, got {spec!r}")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise CommandError(f"--layer: no file {path}")
        loader = importlib.util.spec_from_file_location(path.stem, path)
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        sys.path.insert(0, ".")  # a module in the current folder, as python -m would find it
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise CommandError(f"--layer: cannot import {where!r} ({error})") from None
        finally:
            sys.path.remove(".")
    if not isinstance(getattr(module, name, None), type):
        raise CommandError(f"--layer: {where} has no class {name!r}")
    return getattr(module, name)


def _user_case(args: argparse.Namespace) -> tuple[str, Callable[[np.random.Generator], Case]]:
    import json

    from tinycnn.cli import CommandError

    cls = user_class(args.layer)
    try:
        shape = tuple(int(n) for n in args.input_shape.split(","))
        config = json.loads(args.config)
    except ValueError as error:
        raise CommandError(f"--input-shape or --config: {error}") from None

    def make(rng: np.random.Generator) -> Case:
        layer = _built(cls(**config), shape[1:], rng)
        return layer, rng.standard_normal(shape), {"training": args.training}

    return f"{cls.__name__}({args.config}), input {shape}", make


def run(args: argparse.Namespace) -> int:
    """Run every case, print its report; exit status 1 if any check fails."""
    from tinycnn.testing.gradcheck import gradcheck

    cases = [_user_case(args)] if args.layer else CASES
    failed, passed = [], 0
    for index, (label, make) in enumerate(cases):
        try:
            target, x, options = make(np.random.default_rng([args.seed, index]))
        except ImportError as error:
            print(f"== {label}: skipped ({error})\n")
            continue
        if args.eps is not None:
            options["eps"] = args.eps
        result = gradcheck(target, x, seed=args.seed, tolerance=args.tolerance, **options)
        print(f"== {label}\n{result}\n")
        if result.ok:
            passed += 1
        else:
            failed.append(label)
    print(f"gradcheck: {passed} of {passed + len(failed)} checks passed")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0
