"""``tinycnn plot <kind> model.npz --out file.png``: draw one picture of a trained model.

Kinds (test images come from ``--data DIR`` or the usual MNIST search, with the embedded subset
as the fallback; ``--limit N`` keeps the first N test images):

- ``curves``: loss and accuracy per epoch; needs the training history, from the model file
  (a ``"history"`` entry, or a checkpoint's) or from ``--history FILE.json`` (``History.to_dict``).
- ``confusion``: the confusion matrix on the test images.
- ``mistakes``: the most confident misclassified test images.
- ``filters``: every filter of the first conv layer, or of ``--layer NAME``.
- ``feature-maps``: test image ``--index I`` at every conv and pool layer.
- ``probabilities``: the softmax output for test image ``--index I``.
- ``im2col``: test image ``--index I``, the receptive field with the most contrast of the first
  conv layer (or ``--layer NAME``) and the im2col row it becomes.
- ``shift``: accuracy on test images shifted right by 0..``--max-shift`` pixels, one line per
  model file given (e.g. ``tinycnn plot shift cnn.npz dense.npz --out shift.png``).
- ``saliency``: test image ``--index I`` and the saliency map of ``--class K`` (default: the
  predicted class), with a colour bar.
- ``occlusion``: the probability of ``--class K`` lost when each 6x6 patch of image ``I`` is
  blacked out.
- ``adversarial``: a fooling image of test image ``I`` toward ``--target T`` (default: the
  class after its label), ``--epsilon`` (0.25) and ``--steps`` (10).
- ``class-visualisation``: for every class, the input gradient ascent makes to raise its
  score (``--seed`` for the faint random starts).

Without ``--out`` the picture is written to ``<kind>.png`` (``sliding.gif`` for ``sliding-gif``)
in the current folder, so ``tinycnn plot maxpool`` as a figure caption quotes it just works.

Concept figures (no model file needed; ``architecture``, ``backward`` and ``receptive-field``
draw the seed CNN unless one model file is given), e.g. ``tinycnn plot sliding --out s.png``:

- ``sliding``: a 3x3 kernel over a 5x5 input with ``--strides S`` and ``--padding P``
  (default 2 and 1), and the output size formula; ``sliding-gif``: the same as an animated GIF.
- ``multichannel``: a 5x5x3 input, one 3x3x3 filter, one output map (``--strides``,
  ``--padding``).
- ``maxpool``: max pooling forward and its gradient routing, ties included.
- ``architecture``: every layer with its output shape and parameter count.
- ``backward``: values forward and gradients backward, with every gradient's shape.
- ``dropout``: dropout in training vs at inference.
- ``receptive-field``: what one unit of each conv and pool layer sees of the input.
- ``optimizers``: SGD, momentum and Adam paths on the loss surface 0.1 w1² + 2 w2².
- ``im2col-channels``: im2col of a 5x5x3 input, its row's columns coloured by channel.
- ``softmax-loss``: scores, exp, probabilities and the loss -log p of the true class.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinycnn.cli import CommandError, check_output

HELP = "draw a picture of a trained model or of a concept (curves, filters, sliding, ...)"

KINDS = (
    "curves",
    "confusion",
    "mistakes",
    "filters",
    "feature-maps",
    "probabilities",
    "im2col",
    "shift",
    "saliency",
    "occlusion",
    "adversarial",
    "class-visualisation",
)
CONCEPT_KINDS = (
    "sliding",
    "sliding-gif",
    "multichannel",
    "maxpool",
    "architecture",
    "backward",
    "dropout",
    "receptive-field",
    "optimizers",
    "im2col-channels",
    "softmax-loss",
)
MODEL_OPTIONAL = ("architecture", "backward", "receptive-field")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the kind, the model file(s) and the options."""
    parser.add_argument("kind", choices=KINDS + CONCEPT_KINDS, help="which picture to draw")
    parser.add_argument(
        "model", nargs="*", type=Path, help="model file(s) (.npz); 'shift' takes several"
    )
    parser.add_argument(
        "--out", type=Path, help="file to write (PNG; GIF); default <kind>.png (sliding-gif: .gif)"
    )
    parser.add_argument("--data", type=Path, metavar="DIR", help="folder with the MNIST files")
    parser.add_argument("--index", type=int, default=0, help="test image to show (default 0)")
    parser.add_argument("--layer", metavar="NAME", help="conv layer for filters / im2col")
    parser.add_argument("--history", type=Path, metavar="JSON", help="history file for curves")
    parser.add_argument("--limit", type=int, metavar="N", help="use only the first N test images")
    parser.add_argument("--max-shift", type=int, default=4, help="largest shift in pixels")
    parser.add_argument("--strides", type=int, default=2, help="stride S for sliding (2)")
    parser.add_argument("--padding", type=int, default=1, help="padding P for sliding (1)")
    parser.add_argument(
        "--class",
        dest="class_",
        type=int,
        metavar="K",
        help="class for saliency / occlusion (default: the predicted one)",
    )
    parser.add_argument(
        "--target",
        type=int,
        metavar="T",
        help="class to fool toward (default: the one after the label)",
    )
    parser.add_argument("--epsilon", type=float, default=0.25, help="largest pixel change")
    parser.add_argument("--steps", type=int, default=10, help="attack steps (10)")
    parser.add_argument("--seed", type=int, default=0, help="seed for class-visualisation")


def run(args: argparse.Namespace) -> int:
    """Load the model(s), draw the picture, write ``--out``; returns the exit status."""
    from tinycnn.model import load_model

    count = len(args.model)
    if args.kind in MODEL_OPTIONAL:
        if count > 1:
            raise CommandError(f"'{args.kind}' takes at most one model file, got {count}")
    elif args.kind in CONCEPT_KINDS:
        if count:
            raise CommandError(f"'{args.kind}' takes no model file, got {count}")
    elif args.kind == "shift" and not count:
        raise CommandError("'shift' takes one or more model files, got none")
    elif args.kind != "shift" and count != 1:
        raise CommandError(f"'{args.kind}' takes one model file, got {count}")
    if args.out is None:
        suffix = ".gif" if args.kind == "sliding-gif" else ".png"
        args.out = Path(args.kind.removesuffix("-gif") + suffix)
    check_output(args.out, "--out")
    models = [load_model(path, compile=False) for path in args.model]
    DRAW[args.kind](args, models)
    print(f"wrote {args.out}")
    return 0


def _test_set(args: argparse.Namespace) -> tuple[Any, Any]:
    """Scaled test images (N, 28, 28, 1) float32 and labels (N,), cut to ``--limit``."""
    from tinycnn.data import load_mnist_or_subset, scale_images

    _, (x, y) = load_mnist_or_subset(args.data)
    if args.limit is not None:
        if args.limit < 1:
            raise CommandError(f"--limit must be >= 1, got {args.limit}")
        x, y = x[: args.limit], y[: args.limit]
    return scale_images(x), y.astype("int64")


def _test_image(args: argparse.Namespace) -> tuple[Any, int]:
    x, y = _test_set(args)
    if not 0 <= args.index < len(x):
        raise CommandError(f"--index must be in 0..{len(x) - 1}, got {args.index}")
    return x[args.index], int(y[args.index])


def read_history(model_path: Path, history_path: Path | None) -> dict[str, Any]:
    """The training history for ``curves``: from ``--history``, else from the model file."""
    if history_path is not None:
        try:
            return json.loads(history_path.read_text())
        except json.JSONDecodeError as error:
            raise CommandError(f"{history_path}: not valid JSON ({error})") from None
    from tinycnn.saving.io import read_meta, read_npz

    meta = read_meta(model_path, read_npz(model_path))
    history = meta.get("history") or (meta.get("checkpoint") or {}).get("history")
    if not history:
        raise CommandError(
            f"{model_path} holds no training history; give one with --history FILE.json "
            "(the JSON of History.to_dict() or of history.history)"
        )
    return history


def _curves(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_training_curves

    return plot_training_curves(read_history(args.model[0], args.history), out=args.out)


def _confusion(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_confusion_matrix
    from tinycnn.training.loop import predict_classes

    x, y = _test_set(args)
    return plot_confusion_matrix(y, predict_classes(models[0], x), out=args.out)


def _mistakes(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_misclassified
    from tinycnn.teach.probes import class_probabilities

    x, y = _test_set(args)
    return plot_misclassified(x, y, class_probabilities(models[0], x), out=args.out)


def _filters(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_filters

    return plot_filters(models[0], layer=args.layer, out=args.out)


def _feature_maps(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_feature_maps

    return plot_feature_maps(models[0], _test_image(args)[0], out=args.out)


def _probabilities(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_probabilities

    image, label = _test_image(args)
    return plot_probabilities(models[0], image, label=label, out=args.out)


def _im2col(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_im2col
    from tinycnn.plots.filters import find_conv_layer
    from tinycnn.plots.im2col_picture import clearest_position

    conv = find_conv_layer(models[0], args.layer)
    image, _ = _test_image(args)
    geometry = {"kernel_size": conv.kernel_size, "strides": conv.strides, "padding": conv.padding}
    position = clearest_position(image, **geometry)
    return plot_im2col(image, **geometry, position=position, out=args.out)


def _shift(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_shift_accuracy
    from tinycnn.teach.probes import shift_accuracy

    if args.max_shift < 0:
        raise CommandError(f"--max-shift must be >= 0, got {args.max_shift}")
    x, y = _test_set(args)
    shifts = list(range(args.max_shift + 1))
    names = [path.stem for path in args.model]
    if len(set(names)) != len(names):
        names = [str(path) for path in args.model]
    curves = {name: shift_accuracy(m, x, y, shifts) for name, m in zip(names, models, strict=True)}
    return plot_shift_accuracy(shifts, curves, out=args.out)


def _sliding(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_sliding_kernel

    return plot_sliding_kernel(strides=args.strides, padding=args.padding, out=args.out)


def _sliding_gif(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import animate_sliding_kernel

    return animate_sliding_kernel(args.out, strides=args.strides, padding=args.padding)


def _multichannel(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_multichannel

    return plot_multichannel(strides=args.strides, padding=args.padding, out=args.out)


def _model_figure(name: str) -> Callable[[argparse.Namespace, list[Any]], Any]:
    """A drawer for a figure of one model: the given one, else the seed CNN."""

    def draw(args: argparse.Namespace, models: list[Any]) -> Any:
        import tinycnn.plots

        return getattr(tinycnn.plots, name)(models[0] if models else None, out=args.out)

    return draw


def _no_options(name: str) -> Callable[[argparse.Namespace, list[Any]], Any]:
    def draw(args: argparse.Namespace, models: list[Any]) -> Any:
        import tinycnn.plots

        return getattr(tinycnn.plots, name)(out=args.out)

    return draw


def _saliency(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_saliency

    return plot_saliency(models[0], _test_image(args)[0], k=args.class_, out=args.out)


def _occlusion(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_occlusion

    return plot_occlusion(models[0], _test_image(args)[0], k=args.class_, out=args.out)


def _adversarial(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_fooling

    image, label = _test_image(args)
    target = (label + 1) % 10 if args.target is None else args.target
    return plot_fooling(
        models[0], image, target, epsilon=args.epsilon, steps=args.steps, out=args.out
    )


def _class_visualisation(args: argparse.Namespace, models: list[Any]) -> Any:
    import numpy as np

    from tinycnn.plots import plot_class_visualisation

    return plot_class_visualisation(models[0], np.random.default_rng(args.seed), out=args.out)


def _im2col_channels(args: argparse.Namespace, models: list[Any]) -> Any:
    from tinycnn.plots import plot_im2col
    from tinycnn.plots.multichannel import cs231n_example

    x, _, _ = cs231n_example()
    return plot_im2col(x, 3, strides=2, padding="same", position=(1, 1), out=args.out)


DRAW: dict[str, Callable[[argparse.Namespace, list[Any]], Any]] = {
    "curves": _curves,
    "confusion": _confusion,
    "mistakes": _mistakes,
    "filters": _filters,
    "feature-maps": _feature_maps,
    "probabilities": _probabilities,
    "im2col": _im2col,
    "shift": _shift,
    "sliding": _sliding,
    "sliding-gif": _sliding_gif,
    "multichannel": _multichannel,
    "maxpool": _no_options("plot_maxpool"),
    "architecture": _model_figure("plot_architecture"),
    "backward": _model_figure("plot_backward_flow"),
    "dropout": _no_options("plot_dropout"),
    "receptive-field": _model_figure("plot_receptive_field"),
    "optimizers": _no_options("plot_optimizer_paths"),
    "saliency": _saliency,
    "occlusion": _occlusion,
    "adversarial": _adversarial,
    "class-visualisation": _class_visualisation,
    "im2col-channels": _im2col_channels,
    "softmax-loss": _no_options("plot_softmax_loss"),
}
