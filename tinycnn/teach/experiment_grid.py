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
an interrupted grid resumes where it stopped. The summary (``OUT/results.json``) gives, per
configuration, the median, range, mean, standard deviation and every seed's test accuracy:
the accuracy protocol's table.

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
    data : dict
        ``{"subset": bool, "data": folder or None, "limit": int or None,
        "validation_split": float}``, the same for every run.
    """
    from tinycnn.zoo import MODELS

    runs = []
    for name, settings in configs.items():
        if settings.get("model") not in MODELS:
            raise ValueError(
                f"configuration {name!r}: model must be one of {list(MODELS)}, "
                f"got {settings.get('model')!r}"
            )
        unknown = set(settings) - set(DEFAULTS) - {"model"}
        if unknown:
            raise ValueError(f"configuration {name!r}: unknown settings {sorted(unknown)}")
        for seed in seeds:
            full = {**DEFAULTS, **settings}
            runs.append({"config": name, "seed": int(seed), "settings": full, "data": dict(data)})
    return runs


def run_file(out: Path, spec: dict[str, Any]) -> Path:
    """Where a run's result is stored: ``OUT/runs/<config>-seed<k>.json``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec["config"])
    return out / "runs" / f"{safe}-seed{spec['seed']}.json"


def write_json(path: Path, document: Any) -> None:
    """Write JSON atomically: a temporary file beside ``path``, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=1)  # keeps the grid order of configurations
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finished(out: Path, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result of ``spec``, or None; a stored run of another spec is an error."""
    path = run_file(out, spec)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    if result.get("spec") != spec:
        raise ValueError(
            f"{path} holds a run with other settings ({result.get('spec')}); use another "
            f"output folder or delete it"
        )
    return result


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
    return [finished(out, spec) for spec in runs]  # type: ignore[misc]


def _run_locally(
    todo: list[dict[str, Any]], out: Path, jobs: int, report: Callable[[str], Any]
) -> None:
    """``jobs`` subprocesses at a time; each writes its own result file."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    env = {**os.environ, **ONE_THREAD}

    def one(spec: dict[str, Any]) -> None:
        command = [
            sys.executable,
            "-m",
            "tinycnn.teach.experiment_grid",
            json.dumps(spec),
            str(out),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"run {spec['config']}, seed {spec['seed']} failed:\n{done.stderr[-2000:]}"
            )
        result = finished(out, spec)
        assert result is not None
        report(
            f"{spec['config']}, seed {spec['seed']}: test accuracy "
            f"{result['test_accuracy']:.2%} ({result['seconds']:.0f}s)"
        )

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(one, spec) for spec in todo]:
            future.result()


def _run_on_dask(
    todo: list[dict[str, Any]], scheduler: str, store: Callable[[dict[str, Any]], None]
) -> None:
    """Submit the runs to a Dask cluster and store each result as it arrives."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:
        raise ImportError('scheduler= needs dask.distributed: pip install -e ".[cluster]"') from exc
    with Client(scheduler) as client:
        futures = client.map(run_one, todo, pure=False)
        for future in as_completed(futures):
            store(future.result())


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
