"""``tinycnn data``: where MNIST is, what it holds, and fetching it.

- ``tinycnn data info [--data DIR]``: the folder the full set is read from (or where it was looked
  for), image and label counts per split, and the same for the embedded subset. Never downloads.
- ``tinycnn data download [--dir DIR] [--mirror URL ...] [--timeout S]``: fetch the missing files
  into the cache folder (or DIR), checksummed and written atomically.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "show where the MNIST data is and what it holds, or download it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``info`` and ``download`` actions."""
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    info = actions.add_parser(
        "info", help="where the data is found, and its counts", description=_doc("info")
    )
    info.add_argument(
        "--data", type=Path, metavar="DIR", help="a folder with the four IDX files to inspect"
    )
    download = actions.add_parser(
        "download", help="fetch the four files from public mirrors", description=_doc("download")
    )
    download.add_argument(
        "--dir", type=Path, metavar="DIR", help="destination (default: the cache folder)"
    )
    download.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="base URL to try (repeatable; default: the built-in public mirrors)",
    )
    download.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before giving up on a silent mirror"
    )


def _doc(action: str) -> str:
    """The module docstring's line about one action."""
    return next(line for line in __doc__.splitlines() if f"data {action}" in line).strip("- ")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; returns the exit status."""
    return _info(args.data) if args.action == "info" else _download(args)


def _info(data: Path | None) -> int:
    """Print where the full set and the subset are, with their counts."""
    from tinycnn.data import mnist

    if data is not None:
        located: tuple[Path, str] | None = (data, "--data")
    else:
        located = mnist.locate_mnist()
    if located is None:
        print("full MNIST: not found; looked in")
        if not os.environ.get(mnist.ENV_VAR):
            print(f"  ${mnist.ENV_VAR} (not set)")
        for folder, origin in mnist.search_places():
            print(f"  {folder} ({origin})")
        print(
            f"  set {mnist.ENV_VAR} to a folder with the four files, copy them into the cache "
            "folder, or run 'tinycnn data download'"
        )
    else:
        folder, origin = located
        splits = mnist.read_mnist(folder)
        print(f"full MNIST: {folder} (from {origin})")
        _print_splits(splits)
    print(f"embedded subset: {mnist.SUBSET_DIR}")
    _print_splits(mnist.read_mnist(mnist.SUBSET_DIR))
    return 0


def _print_splits(splits) -> None:
    """Two lines: the count, image shape and per-class label counts of train and test."""
    import numpy as np

    for part, (x, y) in zip(("train", "test"), splits, strict=True):
        counts = " ".join(str(c) for c in np.bincount(y))
        shape = "x".join(str(s) for s in x.shape[1:])
        print(f"  {part:<5} {len(x):>6,} images {shape}, labels per class: {counts}")


def _download(args: argparse.Namespace) -> int:
    """Fetch the missing files and say where they are."""
    from tinycnn.cli import CommandError
    from tinycnn.data import download, mnist

    folder = args.dir if args.dir is not None else mnist.cache_dir()
    try:
        written = download.download_mnist(folder, mirrors=args.mirror, timeout=args.timeout)
    except (download.DownloadError, OSError) as error:
        # OSError: the destination cannot be created or written.
        raise CommandError(str(error)) from None
    if not written:
        print(f"all four files are already in {folder}")
    for path in written:
        print(f"downloaded {path}")
    return 0
