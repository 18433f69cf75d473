"""Capstone: your own network, from your own pieces, trained by your own loop.

Every piece of arithmetic is yours: the grader's ``kit`` makes layers out of the files you wrote
in this folder. ``kit.Conv2D`` runs your ``conv2d_forward`` and ``conv2d_backward``, and those run
on *your* ``im2col`` and ``col2im`` (the grader points the names ``im2col`` and ``col2im`` in your
two convolution files at your own functions). ``kit.loss`` is your ``softmax_cross_entropy`` and
``kit.adam_step`` your ``adam_step``. You write the two things that make it a network:

1. ``build_layers(kit, rng)``: the layer list, in order::

       kit.Conv2D(8, 3, rng)         (N, 28, 28, 1) -> (N, 26, 26, 8)    8 filters, 3 x 3, "valid"
       kit.ReLU()                    (N, 26, 26, 8)
       kit.MaxPool2D(2)              (N, 13, 13, 8)
       kit.Flatten()                 (N, 1352)
       kit.Dropout(0.25, rng)        (N, 1352)
       kit.Dense(1352, 10, rng)      (N, 10)    logits

   Each layer has ``forward(x, training)``, ``backward(dout) -> dx`` and dicts ``params`` and
   ``grads`` with the same keys (``"w"``, ``"b"``; none for ReLU, pooling, Flatten, Dropout).
   All arrays are float32 (the kit's weights are; your pieces keep the dtype).

2. ``train(layers, kit, x, y, epochs, batch_size, learning_rate, rng, log)``: mini-batch
   training. For each epoch draw a new order with exactly ``order = rng.permutation(len(x))``
   (so the grader, with the same generator, expects the same batches), then for each batch of
   ``batch_size`` indices of ``order`` (the last one may be smaller):

   - the forward pass through every layer, in training mode;
   - ``loss, dlogits = kit.loss(logits, y_batch)``;
   - the backward pass, last layer first;
   - for every layer and every key of its ``params``: one step of your Adam,
     ``p, m, v = kit.adam_step(p, g, m, v, t, learning_rate)``, where ``m`` and ``v`` start
     as zeros of ``p``'s shape and ``t`` counts *this parameter's* steps from 1; store the new
     ``p`` back into ``layer.params[key]``;
   - ``log(step, loss)`` with the batch's number (1, 2, ...) and its loss; ``check`` prints
     progress from it.

Worked numbers: 96 images in batches of 32 make 3 steps per epoch; one Conv2D(8, 3) on one
channel has 3*3*1*8 weights and 8 biases.

The check compares six steps of your loop (96 images, 2 epochs) with the grader's, then trains
your network on the embedded subset's 10,000 training images for one epoch (batches of 32,
learning rate 2e-3), printing the loss as it goes, and needs at least 88% accuracy on the
subset's first 1,000 test images. If your
pieces are correct but slow (Python loops over every window, say), it stops early and tells you
the speed it measured and which of your functions took the time.

Check your answer: ``tinycnn exercises check capstone DIR`` (every other piece's file must be in
DIR).
"""

from __future__ import annotations

import numpy as np


def build_layers(kit, rng):
    """The network's layers, in order, as listed above.

    Parameters
    ----------
    kit : the grader's layer kit (``kit.Conv2D``, ``kit.ReLU``, ...)
    rng : numpy.random.Generator
        For the initial weights and the dropout masks.

    Returns
    -------
    layers : list
    """
    ### BEGIN SOLUTION
    return [
        kit.Conv2D(8, 3, rng),
        kit.ReLU(),
        kit.MaxPool2D(2),
        kit.Flatten(),
        kit.Dropout(0.25, rng),
        kit.Dense(1352, 10, rng),
    ]
    ### END SOLUTION


def train(layers, kit, x, y, epochs, batch_size, learning_rate, rng, log):
    """Train ``layers`` on ``x``, ``y`` with shuffled mini-batches and your Adam.

    Parameters
    ----------
    layers : list, from ``build_layers``
    kit : the grader's layer kit (``kit.loss``, ``kit.adam_step``)
    x : ndarray, shape (N, 28, 28, 1), float32
    y : ndarray of int, shape (N,)
    epochs, batch_size : int
    learning_rate : float
    rng : numpy.random.Generator
        For the order of each epoch: ``rng.permutation(len(x))``.
    log : callable
        ``log(step, loss)`` after every batch.
    """
    ### BEGIN SOLUTION
    moments = {}  # (layer number, key) -> (m, v, t)
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            out = x[batch]
            for layer in layers:
                out = layer.forward(out, training=True)
            loss, dout = kit.loss(out, y[batch])
            for layer in reversed(layers):
                dout = layer.backward(dout)
            for number, layer in enumerate(layers):
                for key, p in layer.params.items():
                    m, v, t = moments.get((number, key), (np.zeros_like(p), np.zeros_like(p), 0))
                    p, m, v = kit.adam_step(p, layer.grads[key], m, v, t + 1, learning_rate)
                    layer.params[key] = p
                    moments[(number, key)] = (m, v, t + 1)
            step += 1
            log(step, loss)
    ### END SOLUTION


### QUESTIONS


### BEGIN HIDDEN TESTS
from functools import partial  # noqa: E402

from tinycnn.kernels.im2col import col2im, im2col  # noqa: E402
from tinycnn.teach.exercises.grading import (  # noqa: E402
    Check,
    CheckError,
    Exercise,
    HintLadder,
    Question,
    compare,
    plotted,
    sibling,
)

reference = sibling("reference")
harness = sibling("capstone_harness")  # the same kit the child runs, for the grader's own runs

IMAGES, EPOCHS, BATCH, LEARNING_RATE, TESTS, ACCURACY = 10000, 1, 32, 2e-3, 1000, 0.88
BUDGET = 30.0  # seconds of training: the reference answers take 2 to 6; a slower run is stopped
SHAPES = [[2, 26, 26, 8], [2, 26, 26, 8], [2, 13, 13, 8], [2, 1352], [2, 1352], [2, 10]]
SLOW = {
    "im2col": "im2col.py: loop over the KH*KW kernel offsets and copy strided slices, "
    "not over every window position",
    "col2im": "col2im.py: loop over the KH*KW kernel offsets and add strided slices",
    "maxpool_forward": "maxpool_forward.py: loop over the window offsets, not over pixels",
    "maxpool_backward": "maxpool_backward.py: loop over the window offsets, not over pixels",
    "conv2d_forward": "conv2d_forward.py: one matrix multiply over im2col's rows, no loops",
    "conv2d_backward": "conv2d_backward.py: matrix products and col2im, no loops",
}
REFERENCE_PIECES = {
    "im2col": im2col,
    "col2im": col2im,
    "conv2d_forward": reference.conv2d_forward,
    "conv2d_backward": reference.conv2d_backward,
    "maxpool_forward": reference.maxpool_forward,
    "maxpool_backward": reference.maxpool_backward,
    "relu_forward": lambda x: np.maximum(x, 0),
    "relu_backward": lambda dout, x: dout * (x > 0),
    "dropout_forward": lambda x, rate, training, rng: (
        reference.dropout_forward(x, rate, training, rng) if training else (x, None)
    ),
    "dropout_backward": lambda dout, mask: dout if mask is None else dout * mask,
    "dense_forward": lambda x, w, b: x @ w + b,
    "dense_backward": lambda dout, x, w: (dout @ w.T, x.T @ dout, dout.sum(axis=0)),
    "softmax_cross_entropy": reference.softmax_cross_entropy,
    "adam_step": reference.adam_step,
}


def check_pieces(student) -> None:
    student.harness("layer_kinds")  # loads every piece; a missing one fails before this check


def check_layers(student) -> None:
    kinds, shapes = student.harness("layer_kinds")
    if kinds != harness.KINDS:
        raise CheckError(f"the layers should be {', '.join(harness.KINDS)}; got {', '.join(kinds)}")
    for number, (got, expected) in enumerate(zip(shapes, SHAPES, strict=True)):
        if got != expected:
            raise CheckError(
                f"layer {number} ({kinds[number]}) gives shape {tuple(got)} for 2 images; "
                f"expected {tuple(expected)}"
            )


def _train_like(layers, kit, x, y, epochs, rng, mistake=None):
    """The loop the docstring asks for, or it with one known mistake (fingerprints)."""
    moments: dict = {}
    order, count = None, 0
    for _ in range(epochs):
        if mistake == "not shuffled":
            order = np.arange(len(x))
        elif order is None or mistake != "shuffled once":
            order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            out = x[batch]
            for layer in layers:
                out = layer.forward(out, training=mistake != "training flag")
            _, dout = kit.loss(out, y[batch])
            for layer in reversed(layers):
                dout = layer.backward(dout)
            for number, layer in enumerate(layers):
                for key, p in layer.params.items():
                    m, v, t = moments.get((number, key), (np.zeros_like(p), np.zeros_like(p), 0))
                    count += 1
                    t_given = {"t from 0": t, "one global t": count}.get(mistake, t + 1)
                    p, m, v = kit.adam_step(p, layer.grads[key], m, v, t_given, LEARNING_RATE)
                    layer.params[key] = p
                    moments[(number, key)] = (m, v, t + 1)
    return harness.parameters(layers)


MISTAKES = {
    "training flag": "the forward pass ran with training=False: in training call "
    "layer.forward(x, training=True), or Dropout never drops",
    "not shuffled": "the batches were not shuffled: take them in the order "
    "rng.permutation(len(x)) gives",
    "shuffled once": "the order was drawn once: draw a new rng.permutation(len(x)) every epoch",
    "t from 0": "t starts at 1 (Adam's bias correction divides by 1 - beta**t, which is 0 at "
    "t = 0)",
    "one global t": "t counts the steps of EACH parameter (1, 2, ... per batch), not every call "
    "of adam_step",
}
PIECE_WRONG = (
    "no known mistake of the loop gives these weights: if your loop follows the docstring, one "
    "of your pieces differs from the library (are all their checks passing?)"
)


def _nth(run, mistake, number):
    return run(mistake)[number]


def check_loop(student) -> None:
    got, logged = student.harness("run_loop", 2, BATCH, LEARNING_RATE, 96)
    x, y = harness.subset()[:2]
    runs: dict = {}

    def run(mistake=None):
        if mistake not in runs:
            kit = harness.Kit(harness.Pieces(REFERENCE_PIECES))
            layers = harness.given_layers(kit)
            runs[mistake] = _train_like(
                layers, kit, x[:96], y[:96], 2, np.random.default_rng(1), mistake
            )
        return runs[mistake]

    names = ["Conv2D w", "Conv2D b", "Dense w", "Dense b"]
    if not isinstance(got, list) or len(got) != len(names):
        raise CheckError(f"the given layers should keep 4 parameters, got {len(got)}")
    for number, (name, expected, mine) in enumerate(zip(names, run(), got, strict=True)):
        compare(
            f"{name} after 6 steps (96 images, 2 epochs, batches of 32)",
            expected,
            mine,
            [(partial(_nth, run, m, number), hint) for m, hint in MISTAKES.items()],
            rtol=1e-4,
            atol=1e-6,
            note=PIECE_WRONG,
        )
    if logged != list(range(1, 7)):
        raise CheckError(
            f"log(step, loss) should be called after each of the 6 batches with steps 1 to 6; "
            f"got steps {logged}"
        )


def _speed_message(run: dict) -> str:
    done, total, seconds = run["steps"], run["planned"], run["seconds"]
    used = sum(s for _, s in run["spent"]) or 1.0
    parts = ", ".join(f"{name} {s / used:.0%}" for name, s in run["spent"][:3])
    slowest = run["spent"][0][0] if run["spent"] else ""
    advice = SLOW.get(slowest, f"{slowest}: vectorise it (NumPy on whole arrays, no loops)")
    return (
        f"your pieces give the right numbers but are too slow to train here: {done} of {total} "
        f"batches in {seconds:.0f} s ({done * BATCH / max(seconds, 1e-9):.0f} images/s); the "
        f"whole run would take about {seconds / max(done, 1) * total:.0f} s (the limit is "
        f"{BUDGET:.0f} s).\ntime spent in your functions: {parts}. Slowest: {advice}"
    )


def check_training(student) -> None:
    def log(step, steps, loss):
        student.progress(f"  capstone: step {step}/{steps}, loss {loss:.3f}")

    run = student.harness(
        "train_and_predict", IMAGES, EPOCHS, BATCH, LEARNING_RATE, TESTS, BUDGET, log
    )
    if not run["finished"]:
        raise CheckError(_speed_message(run))
    y_test = harness.subset()[3][:TESTS]
    accuracy = float(np.mean(np.argmax(run["logits"], axis=1) == y_test))
    losses = run["losses"]
    student.progress(
        f"  capstone: test accuracy {accuracy:.1%} on {TESTS} images after {len(losses)} steps "
        f"({run['seconds']:.1f} s of training, {len(losses) * BATCH / run['seconds']:.0f} images/s)"
    )
    if not np.isfinite(losses).all() or not accuracy >= ACCURACY:
        raise CheckError(
            f"after {len(losses)} steps of {BATCH} images: test accuracy {accuracy:.1%} "
            f"(needs {ACCURACY:.0%}); loss {np.mean(losses[:20]):.3f} over the first 20 "
            f"steps, {np.mean(losses[-20:]):.3f} over the last 20"
        )


QUESTIONS = (
    Question(
        "parameters",
        "How many parameters (weights and biases) does the capstone network have?",
        13610,
        "Conv2D: 3*3*1*8 + 8 = 80; Dense: 1352*10 + 10 = 13,530; the other layers have none",
    ),
    Question(
        "steps_per_epoch",
        "10,000 training images in batches of 32: how many Adam steps does one epoch take per "
        "parameter?",
        313,
        "one step per batch, the last one smaller: ceil(10000 / 32) = 312 full batches + 1 of 16",
    ),
    Question(
        "why_shuffle",
        "Why draw a new order every epoch?",
        "a",
        "with a fixed order every epoch repeats the same batches and the same gradient noise; "
        "shuffling makes each mini-batch gradient an unbiased sample of the full one",
        choices=(
            "so each batch is a fresh random sample and epochs do not repeat the same steps",
            "to make each epoch faster",
            "because Adam requires it",
        ),
    ),
)

HINTS = HintLadder(
    shapes="Shapes along the list: (N, 28, 28, 1) -> (N, 26, 26, 8) -> (N, 13, 13, 8) -> (N, "
    "1352) -> (N, 10). Adam keeps (m, v, t) per (layer, key), m and v shaped like the parameter.",
    path="Per batch: forward in order with training=True; the loss and dlogits; backward in "
    "reverse order, each layer's backward turning dout into the dout of the layer before and "
    "filling its grads; then one Adam step per parameter (hint-capstone.png: values forward, "
    "gradients backward, with every shape).",
    formula="for each epoch: order = rng.permutation(len(x)); for each start: batch = "
    "order[start:start + batch_size]; out = x[batch]; for layer in layers: out = "
    "layer.forward(out, training=True); loss, dout = kit.loss(out, y[batch]); for layer in "
    "reversed(layers): dout = layer.backward(dout); then p, m, v = kit.adam_step(p, g, m, v, "
    "t + 1, learning_rate) for each parameter; log(step, loss).",
    picture=plotted("plot_backward_flow"),
)


EXERCISE = Exercise(
    name="capstone",
    topic="your network: your layer list, your batch loop and Adam, your im2col inside",
    functions=("build_layers", "train"),
    checks=(
        Check("your pieces are all there (im2col to adam, 11 files)", check_pieces),
        Check("the layer list: kinds and shapes", check_layers),
        Check(
            "six steps of your loop match the grader's (shuffling, training flag, Adam)", check_loop
        ),
        Check(f"trains to {ACCURACY:.0%} test accuracy on the embedded subset", check_training),
    ),  # fmt: skip
    timeout=120.0,
    questions=QUESTIONS,
    hints=HINTS,
    uses=tuple(harness.PIECES),
    harness="capstone_harness.py",
)
### END HIDDEN TESTS
