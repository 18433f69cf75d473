"""``tinycnn experiment``: a grid of configurations x seeds, in parallel, resumable.

Examples::

    tinycnn experiment --grid ingredients --seeds 5 --jobs 2 --out results/ingredients
    tinycnn experiment --grid my_grid.json --scheduler tcp://10.0.0.5:8786 --out results/mine
    tinycnn experiment --model cnn --model cnn_bn --epochs 1 --seeds 2 --subset --out quick

A grid file is JSON: ``{"configs": {"name": {"model": "cnn_bn", "schedule": "cosine",
"augment": true, "epochs": 15}, ...}, "seeds": [0, 1, 2, 3, 4]}`` (settings in
``tinycnn.teach.experiment_grid``). Prints the protocol table (median, range, every seed), writes
``OUT/results.json`` and ``OUT/results.png``; rerun the same command to resume.

The grid and every option are checked before any run starts: a mistake is one line naming the
key and the value (exit status 2). Ctrl-C stops the running and queued runs at once and keeps
the finished ones (exit status 130); a run that fails is one line naming it, with its error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tinycnn.cli.common import add_data_arguments, positive

HELP = "train a grid of configurations x seeds (local processes or Dask) and tabulate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--grid", help="'ingredients' (tutorial 10) or a grid JSON file")
    grid.add_argument(
        "--model", action="append", help="a zoo model as a configuration (repeatable)"
    )
    parser.add_argument(
        "--seeds", type=positive(int), help="seeds 0..SEEDS-1 (default: grid's, or 5)"
    )
    parser.add_argument(
        "--epochs", type=positive(int), help="override every configuration's epochs"
    )
    parser.add_argument(
        "--jit-compile", action="store_true", help="every run with the fused fast steps"
    )
    parser.add_argument("--validation-split", type=float, default=0.1, help="(0.1, the protocol)")
    add_data_arguments(parser)
    parser.add_argument("--limit", type=positive(int), metavar="N", help="first N training images")
    parser.add_argument(
        "--jobs", type=positive(int), default=1, help="local processes (1 thread each)"
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler to submit to")
    parser.add_argument("--out", type=Path, default=Path("experiment"), help="output folder")


def grid_from_args(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], list[int]]:
    """The configurations and seeds the options describe (the grid file's shape checked)."""
    from tinycnn.cli import CommandError
    from tinycnn.teach.experiment_grid import INGREDIENTS

    seeds: list[int] = list(range(5))
    if args.grid == "ingredients":
        configs = {name: dict(settings) for name, settings in INGREDIENTS.items()}
    elif args.grid is not None:
        configs, from_file = read_grid(Path(args.grid))
        seeds = seeds if from_file is None else from_file
    elif args.model:
        configs = {name: {"model": name} for name in args.model}
    else:
        raise CommandError("give --grid or at least one --model")
    if args.seeds is not None:
        seeds = list(range(args.seeds))
    if args.epochs is not None:
        configs = {name: {**c, "epochs": args.epochs} for name, c in configs.items()}
    if args.jit_compile:
        configs = {name: {**c, "jit_compile": True} for name, c in configs.items()}
    return configs, seeds


def read_grid(path: Path) -> tuple[dict[str, Any], list[int] | None]:
    """A grid file's configurations and seeds; errors name the file."""
    from tinycnn.teach.grid_checks import check_document

    try:
        document = json.loads(path.read_text())
        return check_document(document)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"--grid {path}: {error}") from None


def check_options(args: argparse.Namespace) -> dict[str, Any]:
    """The data every run uses, after checking the options (before any run starts)."""
    import math

    from tinycnn.cli import CommandError

    split = args.validation_split
    if not (math.isfinite(split) and 0 <= split < 1):
        raise CommandError(f"--validation-split must be in [0, 1), got {split}")
    if args.subset and args.data is not None:
        raise CommandError("give --data or --subset, not both")
    if args.data is not None and not args.data.is_dir():
        raise CommandError(f"--data {args.data}: no such folder")
    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out {args.out}: is a file; give a folder (new or of this grid)")
    return {
        "subset": bool(args.subset),
        "data": None if args.data is None else str(args.data.resolve()),
        "limit": args.limit,
        "validation_split": split,
    }


def run(args: argparse.Namespace) -> int:
    from tinycnn.cli import CommandError
    from tinycnn.plots import plot_grid
    from tinycnn.teach.children import RunError
    from tinycnn.teach.experiment_grid import (
        format_table,
        make_runs,
        run_grid,
        summarise,
        write_json,
    )

    configs, seeds = grid_from_args(args)
    data = check_options(args)
    try:
        runs = make_runs(configs, seeds, data)
    except ValueError as error:
        where = f"--grid {args.grid}: " if args.grid else ""
        raise ValueError(f"{where}{error}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    where = f"Dask at {args.scheduler}" if args.scheduler else f"{args.jobs} local process(es)"
    print(f"{len(configs)} configurations x {len(seeds)} seeds = {len(runs)} runs on {where}")
    try:
        results = run_grid(runs, args.out, args.jobs, args.scheduler, report=_say)
    except RunError as error:
        raise CommandError(f"{error}; the finished runs are kept in {args.out / 'runs'}") from None
    table = summarise(results)
    for line in format_table(table):
        print(line)
    protocol = (
        f"{'embedded subset' if args.subset else 'MNIST'}"
        f"{f', first {args.limit:,} training images' if args.limit else ''}, "
        f"{args.validation_split:.0%} held out for validation, seeds {seeds}, one thread per "
        f"run; epochs {sorted({c.get('epochs', 10) for c in configs.values()})}"
    )
    document = {"protocol": protocol, "table": table, "runs": results}
    write_json(args.out / "results.json", document)
    plot_grid(table, args.out / "results.png")
    print(f"Wrote {args.out / 'results.json'} and {args.out / 'results.png'}")
    return 0


def _say(line: str) -> None:
    print(line, flush=True)
