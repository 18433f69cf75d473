"""Sequential: a stack of layers, each feeding the next, with Keras's interface.

The forward pass runs the layers in order; the backward pass runs their ``backward`` in reverse,
each turning ∂loss/∂(its output) into ∂loss/∂(its input) and filling its ``grads`` on the way
(the chain rule, one layer at a time)::

    model = Sequential([Flatten(), Dense(10, activation="softmax")], input_shape=(28, 28, 1))
    logits = model.forward(x, training=True, logits=True)   # (N, 10), final softmax skipped
    loss = ce.forward(logits, y)
    model.backward(ce.backward())                          # fills every layer's grads
    entries = model.params_and_grads()                     # [(name, param, grad), ...]
    opt.update([p for _, p, _ in entries], [g for _, _, g in entries])

Training on logits (``logits=True``) lets the fused, stable ``SoftmaxCrossEntropy`` stand in
for the model's final softmax; ``forward(x)`` alone returns probabilities, as Keras's model does.

By default every layer's own ``forward`` and ``backward`` run. ``compile(..., jit_compile=True)``
runs fused steps instead where they apply (:mod:`tinycnn.runtime` decides; ``summary()`` says).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from typing import Any

import numpy as np

from tinycnn.layers import LAYERS
from tinycnn.layers.activation import ActivatedLayer
from tinycnn.layers.base import Array, Layer, Shape, check_name
from tinycnn.layers.softmax import Softmax
from tinycnn.runtime import Runtime, Step
from tinycnn.saving import io, validate
from tinycnn.training import loop

# Keras's automatic names where its class name differs from ours.
KERAS_NAMES = {"MaxPool2D": "max_pooling2d"}


def keras_name(layer: Layer) -> str:
    """Keras's default base name of a layer: ``Conv2D`` -> ``conv2d``, ``ReLU`` -> ``re_lu``."""
    cls = type(layer).__name__
    if cls in KERAS_NAMES:
        return KERAS_NAMES[cls]
    snake = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", snake).lower()


def readable_size(n_bytes: float) -> str:
    """``900136`` -> ``"879.04 KB"`` (powers of 1024, as Keras's summary prints them)."""
    units = ["B", "KB", "MB", "GB"]
    while n_bytes >= 1024 and len(units) > 1:
        n_bytes /= 1024
        units.pop(0)
    return f"{n_bytes:.2f} {units[0]}"


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : iterable of Layer, optional
        Added in order with ``add``.
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(28, 28, 1)``; when given, the model is built at once.
        Otherwise it is built by ``build`` or by the first ``forward``.
    seed : int, optional
        Seed of the generator that initialises the weights (and drives Dropout layers that
        have no seed of their own).

    Attributes
    ----------
    layers : list of Layer
        Each named uniquely, Keras style: ``conv2d``, ``conv2d_1``, ``max_pooling2d``, ...
    optimizer, loss
        Set by ``compile``.
    """

    def __init__(
        self,
        layers: Iterable[Layer] | None = None,
        input_shape: Shape | None = None,
        seed: int | None = None,
    ) -> None:
        self.layers: list[Layer] = []
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.input_shape: Shape | None = None
        self.output_shapes: list[Shape] = []
        self.built = False
        self.optimizer: Any = None
        self.loss: Any = None
        self.metrics: tuple[str, ...] = ()
        self.jit_compile = False
        self.stop_training = False  # set by a callback to end fit after this epoch
        self._ran: list[Step] | None = None  # the steps the last forward ran, for backward
        self._plan: tuple[tuple, list[Step]] | None = None  # (key, steps), kept between calls
        for layer in layers or ():
            self.add(layer)
        if input_shape is not None:
            self.build(input_shape)

    # -- assembling -----------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append ``layer``, giving it a unique name if it has none (built at once if the model is).

        Raises
        ------
        ValueError
            If ``layer`` is not a Layer, or its name is already taken.
        """
        if not isinstance(layer, Layer):
            raise ValueError(f"expected a Layer, got {type(layer).__name__}")
        check_name(layer.name)  # also catches a name assigned after construction
        taken = {other.name for other in self.layers}
        if layer.name is None:
            base, i = keras_name(layer), 0
            layer.name = base
            while layer.name in taken:
                i += 1
                layer.name = f"{base}_{i}"
        elif layer.name in taken:
            raise ValueError(f"layer name {layer.name!r} is already used in this model")
        self.layers.append(layer)
        if self.built:
            shape = self.output_shapes[-1] if self.output_shapes else self.input_shape
            assert shape is not None
            layer.build(shape, self.rng)
            self.output_shapes.append(layer.output_shape(shape))

    def build(self, input_shape: Shape, rng: np.random.Generator | None = None) -> None:
        """Build every layer for examples of ``input_shape`` (no batch axis), making weights.

        Parameters
        ----------
        input_shape : tuple of int
            E.g. ``(28, 28, 1)``.
        rng : numpy.random.Generator, optional
            Overrides the model's own generator (made from ``seed``).
        """
        rng = rng if rng is not None else self.rng
        shape = self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shapes = []
        for layer in self.layers:
            layer.build(shape, rng)
            shape = layer.output_shape(shape)
            self.output_shapes.append(shape)
        self.built = True

    # -- computing ------------------------------------------------------------------------
    @property
    def runtime(self) -> Runtime:
        """How this model runs now: the active backend and ``jit_compile`` (from ``compile``)."""
        return Runtime.current(self.jit_compile)

    def steps(self) -> list[Step]:
        """What ``forward`` runs: the layers (eager), or fused steps with ``jit_compile``.

        The runtime decides which (:attr:`tinycnn.runtime.Runtime.fused`); the fused plan is
        :func:`tinycnn.fast.plan.plan`'s, kept while the layers and the runtime stay the same,
        so that fused steps keep their scratch arrays between batches.
        """
        return self._steps(self.runtime)

    def _steps(self, runtime: Runtime) -> list[Step]:
        key = (runtime, tuple(id(layer) for layer in self.layers))
        if self._plan is None or self._plan[0] != key:
            self._plan = (key, self._make_steps(runtime))
        return self._plan[1]

    def _make_steps(self, runtime: Runtime) -> list[Step]:
        if not runtime.fused:
            return list(self.layers)
        from tinycnn.fast.plan import plan  # imports Numba: only when asked for

        return plan(self.layers)

    def describe_runtime(self) -> str:
        """One line saying what runs: eager layers or which fused steps, on which backend, with
        how many threads."""
        runtime = self.runtime
        if not runtime.fused:
            return runtime.describe()
        from tinycnn.fast.plan import describe

        return runtime.describe(describe(self.steps()))

    def forward(self, x: Array, training: bool = False, logits: bool = False) -> Array:
        """Run the layers in order.

        Parameters
        ----------
        x : ndarray, shape (N, *input_shape)
            A batch, e.g. (N, 28, 28, 1).
        training : bool
            Training mode (Dropout drops).
        logits : bool
            Stop before a final softmax (a ``Softmax`` layer or ``activation="softmax"``), for
            the fused loss. Other models are unaffected.

        Returns
        -------
        out : ndarray, shape (N, *output_shape)

        Raises
        ------
        ValueError
            If ``x`` does not have shape (N, *input_shape).
        """
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        self._check_input(x)
        runtime = self.runtime
        *body, last = self._steps(runtime)
        with runtime.applied():  # the same threads as fit and predict, so the same bits
            for step in body:
                x = step.forward(x, training)
            self._ran = body
            if logits and isinstance(last, Softmax):  # the loss applies the softmax
                return x
            self._ran = [*body, last]
            if logits and isinstance(last, ActivatedLayer) and isinstance(last.activation, Softmax):
                return last.forward(x, training, apply_activation=False)
            return last.forward(x, training)

    def backward(self, dout: Array) -> Array | None:
        """Run ``backward`` through the steps of the last ``forward`` in reverse, filling every
        layer's ``grads``.

        Parameters
        ----------
        dout : ndarray, shape (N, *output_shape)
            ∂loss/∂(what the last ``forward`` returned): ∂loss/∂logits after
            ``forward(..., logits=True)``.

        Returns
        -------
        dx : ndarray, shape (N, *input_shape)
            ∂loss/∂x; None with ``jit_compile``, whose first fused step skips it.
        """
        if self._ran is None:
            raise RuntimeError("call forward before backward")
        dx: Array | None = dout
        with self.runtime.applied():
            for step in reversed(self._ran):
                assert dx is not None, "only the first step may skip its input gradient"
                dx = step.backward(dx)
        return dx

    def _check_input(self, x: np.ndarray) -> None:
        assert self.input_shape is not None
        if x.shape[1:] != self.input_shape or x.ndim < 2:
            expected = ", ".join(["N", *map(str, self.input_shape)])
            raise ValueError(f"model expected input of shape ({expected}), got {x.shape}")

    # -- parameters -----------------------------------------------------------------------
    def params_and_grads(self) -> list[tuple[str, Array, Array]]:
        """``(name, param, grad)`` for every parameter tensor, in ``get_weights`` order.

        The arrays themselves (not copies): an optimizer updates ``param`` in place. Call this
        after each ``backward``, which may replace the ``grad`` arrays.
        """
        return [
            (f"{layer.name}/{key}", layer.params[key], layer.grads[key])
            for layer in self.layers
            for key in layer.params
        ]

    def get_weights(self) -> list[Array]:
        """Copies of all parameters in Keras's order and shapes: ``[kernel, bias]`` per layer."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: list[Array]) -> None:
        """Load weights in Keras's order and shapes (e.g. ``keras_model.get_weights()``).

        Each layer takes its parameters, then its non-trainable state (``Layer.state``).

        Raises
        ------
        ValueError
            If the number of arrays or any shape differs, or a value is NaN, infinite, over
            ``tinycnn.layers.base.MAX_WEIGHT`` in size or (BatchNormalization) a negative
            variance; then nothing is changed.
        """
        self._require_built()
        names = self.weight_names()
        current = [
            w for layer in self.layers for w in (*layer.params.values(), *layer.state.values())
        ]
        if len(weights) != len(names):
            raise ValueError(f"expected {len(names)} weight arrays ({names}), got {len(weights)}")
        for name, old, w in zip(names, current, weights, strict=True):
            if np.shape(w) != old.shape:
                raise ValueError(f"weight {name!r}: expected shape {old.shape}, got {np.shape(w)}")
        start, pieces = 0, []
        for layer in self.layers:
            stop = start + len(layer.weight_names())
            pieces.append(weights[start:stop])
            layer.check_weights(pieces[-1])  # every layer checked before any changes
            start = stop
        for layer, piece in zip(self.layers, pieces, strict=True):
            layer.set_weights(piece)

    def weight_names(self) -> list[str]:
        """``"<layer>/<key>"`` for every array of ``get_weights``, in the same order."""
        return [f"{layer.name}/{key}" for layer in self.layers for key in layer.weight_names()]

    def count_params(self) -> int:
        """Total number of scalar weights, trainable and not (as Keras counts them)."""
        self._require_built()
        return sum(layer.count_params() for layer in self.layers)

    def astype(self, dtype: type | np.dtype) -> Sequential:
        """Cast every parameter to ``dtype`` in place (float64 for gradient checks)."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def built_input_shape(self) -> Shape:
        """``input_shape`` of a built model, e.g. ``(28, 28, 1)``; ValueError when not built."""
        self._require_built()
        assert self.input_shape is not None
        return self.input_shape

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError("the model is not built: give input_shape or call build() first")

    # -- reporting ------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print a Keras-style table: layer (type), output shape, parameter count, totals.

        Parameters
        ----------
        print_fn : callable
            Called once per line (``print`` by default; pass ``lines.append`` to capture).
        """
        self._require_built()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer, shape in zip(self.layers, self.output_shapes, strict=True):
            out = "(" + ", ".join(["None", *map(str, shape)]) + ")"
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", out, f"{layer.count_params():,}")
            )
        widths = [max(len(row[i]) for row in rows) + 4 for i in range(2)]
        widths.append(max(len(row[2]) for row in rows))
        width = sum(widths)
        lines = ['Model: "sequential"', "_" * width]
        for i, (name, out, count) in enumerate(rows):
            lines.append(f"{name:<{widths[0]}}{out:<{widths[1]}}{count:>{widths[2]}}")
            lines.append("=" * width if i in (0, len(rows) - 1) else "")
        lines += [*self._param_totals(), "_" * width, f"Runs: {self.describe_runtime()}"]
        for line in lines:
            print_fn(line)

    def _param_totals(self) -> list[str]:
        """Keras's three summary lines: total, trainable and non-trainable counts and sizes."""
        trainable = [p for layer in self.layers for p in layer.params.values()]
        frozen = [s for layer in self.layers for s in layer.state.values()]
        counts = [sum(a.size for a in arrays) for arrays in (trainable + frozen, trainable, frozen)]
        sizes = [
            sum(a.nbytes for a in arrays) for arrays in (trainable + frozen, trainable, frozen)
        ]
        labels = ("Total params", "Trainable params", "Non-trainable params")
        return [
            f"{label}: {count:,} ({readable_size(size)})"
            for label, count, size in zip(labels, counts, sizes, strict=True)
        ]

    # -- configuration --------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable description that ``Sequential.from_config`` rebuilds."""
        return {
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "seed": self.seed,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: Mapping[str, type] | None = None
    ) -> Sequential:
        """Rebuild a model (fresh weights) from ``get_config()``'s output.

        ``custom_objects`` maps class names to your own layer classes (Keras's convention);
        each layer is rebuilt as ``cls(**layer_config)``.
        """
        classes = {**LAYERS, **(custom_objects or {})}
        unknown = [s["class_name"] for s in config["layers"] if s["class_name"] not in classes]
        if unknown:
            raise ValueError(
                f"unknown layer class {', '.join(map(str, unknown))}: a layer of your own? pass "
                f"custom_objects={{{unknown[0]!r}: {unknown[0]}}}"
            )
        layers = [classes[spec["class_name"]](**spec["config"]) for spec in config["layers"]]
        return cls(layers, input_shape=config.get("input_shape"), seed=config.get("seed"))

    # -- training, inference and saving (in tinycnn.training.loop and tinycnn.saving.io) ------
    def compile(
        self,
        optimizer: Any = "adam",
        loss: Any = "softmax_cross_entropy",
        metrics: Iterable[str] = ("accuracy",),
        jit_compile: bool = False,
    ) -> None:
        """Choose the optimizer and loss for ``fit`` (names as in Keras, or objects).

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"adam"``, ``"sgd"`` or an object such as ``Adam(1e-3)``.
        loss : str or loss object
        metrics : iterable of str
        jit_compile : bool, default False
            Keras's name for the fast path: run ``Conv2D(relu)`` + ``MaxPool2D`` pairs as fused
            steps (``tinycnn.fast``), on the Numba backend. Off, every layer's own
            ``forward`` and ``backward`` run. A way of running, not part of the model: not saved.
        """
        from tinycnn.losses import get_loss
        from tinycnn.optim import get_optimizer

        if not isinstance(jit_compile, bool):
            raise ValueError(f"jit_compile must be True or False, got {jit_compile!r}")
        self.optimizer = get_optimizer(optimizer)
        self.loss = get_loss(loss)
        self.metrics = tuple(metrics)
        self.jit_compile = jit_compile

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> Any:
        """Train; see ``tinycnn.training.loop.fit``."""
        return loop.fit(self, x, y, **kwargs)

    def evaluate(self, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> Any:
        """Loss and metrics on ``(x, y)``; see ``tinycnn.training.loop.evaluate``."""
        return loop.evaluate(self, x, y, **kwargs)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> Array:
        """Outputs for ``x`` in batches; see ``tinycnn.training.loop.predict``."""
        return loop.predict(self, x, batch_size=batch_size)

    def predict_classes(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Most likely class of each example; see ``tinycnn.training.loop.predict_classes``."""
        return loop.predict_classes(self, x, batch_size=batch_size)

    def save(self, path: str, history: Any = None) -> None:
        """Save architecture, weights and compile settings; see ``tinycnn.saving.io.save_model``.

        Optimizer state is not kept here: checkpoints (``fit(checkpoint=...)``) hold it.
        """
        io.save_model(self, path, history)

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r})"


def load_model(
    path: str | PathLike, compile: bool = True, custom_objects: Mapping[str, type] | None = None
) -> Sequential:
    """Rebuild a model saved by ``Sequential.save`` / ``save_model`` (or a training checkpoint).

    The file is read by :mod:`tinycnn.saving.io`, which checks it before anything is built.

    Parameters
    ----------
    path : str or PathLike
    compile : bool
        Compile the model with the saved optimizer settings and loss when the file has them
        (the optimizer's state is not in a model file; resume training from a checkpoint).
    custom_objects : dict of str to class, optional
        Your own layer classes by the name saved in the file (their class name), as in Keras:
        ``load_model(path, custom_objects={"LeakyReLU": LeakyReLU})``. Each is rebuilt with
        ``cls(**layer.get_config())``; they take precedence over tinycnn's layers.

    Returns
    -------
    Sequential

    Raises
    ------
    FileNotFoundError, ValueError
        See the module docstring for every refused case; the message names the file.
    """
    classes = {**LAYERS, **(custom_objects or {})}
    meta, arrays = io.read_file(path, classes)
    weights = io.read_weights(path, meta, arrays)
    validate.check_declared_shapes(path, meta, classes)  # building allocates what the file holds
    try:
        model = Sequential.from_config(meta["architecture"], custom_objects)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        raise ValueError(f"{path}: cannot rebuild the architecture ({error})") from None
    io.check_architecture(path, meta, model)
    model.set_weights(weights)
    config = meta.get("training_config")
    if compile and config:
        from tinycnn.optim import get_optimizer

        try:
            optimizer = get_optimizer(config["optimizer"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: cannot rebuild the optimizer ({error})") from None
        model.compile(optimizer=optimizer)
    return model
