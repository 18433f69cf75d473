"""Experiment grids: every configuration trained with every seed, measured under one protocol.

A *grid* names configurations (a zoo model and how to train it) and seeds. Each (configuration,
seed) pair is one *run*: train from scratch, evaluate once on the test set. Runs are
independent, so they can run anywhere, in any order:

- ``jobs=N``: N local processes at a time (``python -m tinycnn.teach.experiment_grid``), each
  limited to one thread (``OPENBLAS/OMP/MKL/NUMBA_NUM_THREADS=1``), so N runs share N cores without
  fighting over them;
- ``scheduler=ADDRESS``: the same runs submitted to a Dask cluster (``dask.distributed``, the
  ``cluster`` extra; imported only here, only then).

Each finished run is written at once to ``OUT/runs/<config>-seed<k>.json`` (atomically), with
its full specification. Starting the same grid again skips every run whose file is there, so
an interrupted grid resumes where it stopped. Ctrl-C stops the running children (their whole
process groups) within about a second and starts no queued run (:mod:`tinycnn.teach.children`).
The grid is checked before any run starts (:mod:`tinycnn.teach.grid_checks`): every setting,
the seeds, and that no two configurations write the same file; result files are checked when
read. The summary (``OUT/results.json``) gives, per configuration, the median, range, mean,
standard deviation and every seed's test accuracy: the accuracy protocol's table.

A run's numbers do not depend on where it ran: one thread, the seed fixing the weights, split,
order, dropout and augmentation, so ``jobs=1``, ``jobs=2`` and a Dask cluster give identical
results (``tests/teach/test_experiment_grid.py``).

Configuration settings (all optional but ``model``): ``model`` (a ``tinycnn.zoo.MODELS`` name),
``augment`` (bool), ``schedule`` (``"constant"``: Adam(``lr``); ``"cosine"``: the zoo recipe's
warm-up and cosine decay), ``lr`` (1e-3), ``epochs`` (10), ``batch_size`` (64),
``jit_compile`` (False: the layers' own steps; True: the fused fast steps).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinycnn.saving.durable import atomic_write
from tinycnn.teach import grid_checks
from tinycnn.teach.children import RunError, run_children

DEFAULTS: dict[str, Any] = {
    "augment": False,
    "schedule": "constant",
    "lr": 1e-3,
    "epochs": 10,
    "batch_size": 64,
    "jit_compile": False,
}
ONE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
DASK_TIMEOUT = 10  # seconds to reach a scheduler
# The ingredients of "From 99.2% to 99.5%" (tutorial 10), added one at a time.
INGREDIENTS: dict[str, dict[str, Any]] = {
    "seed CNN": {"model": "cnn"},
    "+ BN": {"model": "cnn_bn"},
    "+ BN + cosine": {"model": "cnn_bn", "schedule": "cosine", "epochs": 15},
    "+ BN + cosine + augment": {
        "model": "cnn_bn",
        "schedule": "cosine",
        "augment": True,
        "epochs": 15,
    },
    "deep + BN + cosine + augment": {
        "model": "cnn_bn_deep",
        "schedule": "cosine",
        "augment": True,
        "epochs": 15,
    },
}


def make_runs(
    configs: dict[str, dict[str, Any]], seeds: Sequence[int], data: dict[str, Any]
) -> list[dict[str, Any]]:
    """One specification per (configuration, seed), configurations first, in order.

    Parameters
    ----------
    configs : dict of str to dict
        Name -> settings (see the module docstring); missing settings take ``DEFAULTS``.
    seeds : sequence of int
        Distinct integers >= 0.
    data : dict
        ``{"subset": bool, "data": folder or None, "limit": int or None,
        "validation_split": float}``, the same for every run.

    Raises
    ------
    ValueError
        For any bad setting or seed, or two configurations writing one result file (one line
        naming the key and the value; see :mod:`tinycnn.teach.grid_checks`).
    """
    checked = {
        name: grid_checks.check_settings(name, settings, DEFAULTS)
        for name, settings in configs.items()
    }
    seeds = grid_checks.check_seeds(list(seeds))
    grid_checks.check_file_names(list(checked), _file_stem)
    return [
        {"config": name, "seed": seed, "settings": full, "data": dict(data)}
        for name, full in checked.items()
        for seed in seeds
    ]


def _file_stem(config: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in config)


def run_file(out: Path, spec: dict[str, Any]) -> Path:
    """Where a run's result is stored: ``OUT/runs/<config>-seed<k>.json``."""
    return out / "runs" / f"{_file_stem(spec['config'])}-seed{spec['seed']}.json"


def write_json(path: Path, document: Any) -> None:
    """Write JSON atomically: a temporary file beside ``path``, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # indent=1 keeps the grid order of configurations readable
    atomic_write(path, lambda file: json.dump(document, file, indent=1))


def finished(out: Path, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of ``spec``, or None; a damaged file or a stored run of another spec
    is a ValueError naming the file."""
    path = run_file(out, spec)
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"{path}: not a run's result ({error}); delete it to rerun") from None
    return grid_checks.check_result(path, result, spec)


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Train and test one run; ``{"spec", "test_accuracy", "test_loss", "history", ...}``.

    A module-level function of plain data in and out, so Dask can ship it to its workers.
    """
    from tinycnn.optim import Adam
    from tinycnn.zoo import MODELS, recipe

    _one_thread()
    settings, data, seed = spec["settings"], spec["data"], spec["seed"]
    (x_train, y_train), (x_test, y_test) = _load(data)
    model = MODELS[settings["model"]](seed)
    if settings["schedule"] == "cosine":
        train_samples = len(x_train) - round(data["validation_split"] * len(x_train))
        optimizer = recipe("cnn_bn", train_samples, settings["epochs"]).optimizer
    else:
        optimizer = Adam(settings["lr"])
    model.compile(optimizer=optimizer, jit_compile=settings["jit_compile"])
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, epochs=settings["epochs"], batch_size=settings["batch_size"],
        validation_split=data["validation_split"], seed=seed, augment=settings["augment"],
        verbose=0,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test)
    return {
        "spec": spec,
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "history": history.history,
        "seconds": seconds,
    }


def _one_thread() -> None:
    """One thread for the matrix multiplies, beside Numba's one (a Dask worker may have started
    with more): ``tinycnn.runtime`` applies it around ``fit`` and ``evaluate``."""
    from tinycnn import runtime

    runtime.set_threads(1)


def _load(data: dict[str, Any]) -> tuple:
    from tinycnn.data.arrays import load_scaled

    folder = None if data.get("data") is None else Path(data["data"])
    (x_train, y_train), test = load_scaled(folder, subset=bool(data.get("subset")))
    if data.get("limit"):
        x_train, y_train = x_train[: data["limit"]], y_train[: data["limit"]]
    return (x_train, y_train), test


# -- running a grid ---------------------------------------------------------------------------
def run_grid(
    runs: list[dict[str, Any]],
    out: Path,
    jobs: int = 1,
    scheduler: str | None = None,
    report: Callable[[str], Any] | None = None,
) -> list[dict[str, Any]]:
    """Run every spec not already finished in ``out``; return all results in ``runs`` order.

    Parameters
    ----------
    runs : list of dict
        From ``make_runs``.
    out : Path
        Output folder (``runs/`` inside it holds one JSON per finished run).
    jobs : int
        Local processes at a time, one thread each (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    report : callable, optional
        Called with one line per finished run.
    """
    report = report or (lambda line: None)
    todo = [spec for spec in runs if finished(out, spec) is None]
    if len(todo) < len(runs):
        report(f"{len(runs) - len(todo)} of {len(runs)} runs already done in {out}")
    try:
        _run_todo(todo, out, jobs, scheduler, report)
    except KeyboardInterrupt:
        kept = sum(1 for spec in runs if run_file(out, spec).exists())
        report(
            f"interrupted: {kept} of {len(runs)} runs are finished in {out / 'runs'}; run the "
            f"same command again to train the other {len(runs) - kept}"
        )
        raise
    return [finished(out, spec) for spec in runs]  # type: ignore[misc]


def _run_todo(
    todo: list[dict[str, Any]],
    out: Path,
    jobs: int,
    scheduler: str | None,
    report: Callable[[str], Any],
) -> None:
    """Train the runs not yet done, on Dask or in local processes."""

    def store(result: dict[str, Any]) -> None:
        write_json(run_file(out, result["spec"]), result)
        spec = result["spec"]
        report(
            f"{spec['config']}, seed {spec['seed']}: test accuracy "
            f"{result['test_accuracy']:.2%} ({result['seconds']:.0f}s)"
        )

    if scheduler is not None:
        _run_on_dask(todo, scheduler, store)
    else:
        _run_locally(todo, out, jobs, report)


def _run_locally(
    todo: list[dict[str, Any]], out: Path, jobs: int, report: Callable[[str], Any]
) -> None:
    """``jobs`` subprocesses at a time, each in its own process group, writing its own file."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")

    def command(spec: dict[str, Any]) -> list[str]:
        return [sys.executable, "-m", "tinycnn.teach.experiment_grid", json.dumps(spec), str(out)]

    def done(spec: dict[str, Any]) -> None:
        result = finished(out, spec)
        if result is None:
            raise RunError(f"run {spec['config']!r}, seed {spec['seed']} wrote no result")
        report(
            f"{spec['config']}, seed {spec['seed']}: test accuracy "
            f"{result['test_accuracy']:.2%} ({result['seconds']:.0f}s)"
        )

    run_children(todo, command, jobs, {**os.environ, **ONE_THREAD}, done)


def _run_on_dask(
    todo: list[dict[str, Any]], scheduler: str, store: Callable[[dict[str, Any]], None]
) -> None:
    """Submit the runs to a Dask cluster and store each result as it arrives; Ctrl-C cancels
    the runs not yet finished."""
    with dask_client(scheduler) as client:
        from dask.distributed import as_completed

        futures = client.map(run_one, todo, pure=False)
        try:
            for future, spec in _completed(as_completed(futures), futures, todo):
                try:
                    result = future.result()
                except Exception as error:  # the run's own error, raised again here
                    raise RunError(
                        f"run {spec['config']!r}, seed {spec['seed']} failed: "
                        f"{type(error).__name__}: {' '.join(str(error).split())[:500]}"
                    ) from None
                store(result)
        finally:
            client.cancel([f for f in futures if not f.done()])


def _completed(done: Any, futures: list[Any], todo: list[dict[str, Any]]) -> Any:
    """Each finished future with the spec it runs, in the order they finish."""
    spec_of = {future.key: spec for future, spec in zip(futures, todo, strict=True)}
    for future in done:
        yield future, spec_of[future.key]


def dask_client(scheduler: str) -> Any:
    """A ``dask.distributed.Client`` connected to ``scheduler``, or a one-line ValueError:
    ``cannot use a Dask scheduler at ADDRESS: ...`` (no Dask, nothing there, not Dask)."""
    where = f"cannot use a Dask scheduler at {scheduler}"
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError(
            f"{where}: dask.distributed is not installed (pip install -e '.[cluster]')"
        ) from None
    try:
        return Client(scheduler, timeout=DASK_TIMEOUT)
    except MemoryError:  # a non-Dask service's bytes read as a frame length
        raise ValueError(f"{where}: the service there does not speak Dask's protocol") from None
    except Exception as error:  # OSError, TimeoutError, ValueError from a bad address ...
        text = " ".join(str(error).split())[:300] or type(error).__name__
        raise ValueError(f"{where}: {text}") from None


# -- summarising ------------------------------------------------------------------------------
def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per configuration (grid order): seeds, accuracies, median, min, max, mean, std."""
    table: dict[str, dict[str, Any]] = {}
    for result in results:
        spec = result["spec"]
        row = table.setdefault(spec["config"], {"settings": spec["settings"], "per_seed": {}})
        row["per_seed"][str(spec["seed"])] = result["test_accuracy"]
    for row in table.values():
        values = list(row["per_seed"].values())
        row.update(
            median=statistics.median(values),
            min=min(values),
            max=max(values),
            mean=statistics.fmean(values),
            std=statistics.stdev(values) if len(values) > 1 else 0.0,
        )
    return table


def format_table(table: dict[str, dict[str, Any]]) -> list[str]:
    """The protocol table as text lines: configuration, median, range, every seed."""
    width = max([len("configuration"), *map(len, table)])
    lines = [f"{'configuration':<{width}}  median   range            per seed"]
    for name, row in table.items():
        seeds = ", ".join(f"{100 * v:.2f}" for v in row["per_seed"].values())
        lines.append(
            f"{name:<{width}}  {100 * row['median']:.2f}%  "
            f"{100 * row['min']:.2f}-{100 * row['max']:.2f}%   {seeds}"
        )
    return lines


def main(argv: Sequence[str]) -> int:
    """``python -m tinycnn.teach.experiment_grid SPEC_JSON OUT``: one run, stored in OUT."""
    spec, out = json.loads(argv[0]), Path(argv[1])
    write_json(run_file(out, spec), run_one(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
