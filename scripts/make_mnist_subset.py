"""Regenerate the MNIST subset embedded in tinycnn (tinycnn/data/mnist_subset/), byte for byte.

Usage::

    python scripts/make_mnist_subset.py [--source DIR] [--out DIR]

``--source`` is a folder with the full MNIST (default: $TINYCNN_DATA_DIR, else
../shared/data/mnist beside the repository). The draw is fixed by ``SUBSET_SEED`` in
``tinycnn/data/subset.py``; see that module for how the subset is stratified.
``tests/data/test_mnist.py`` checks that this script reproduces the shipped files exactly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tinycnn.data.mnist import SUBSET_DIR
from tinycnn.data.subset import write_subset

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Write the six subset files and print their sizes; returns the exit status."""
    default_source = os.environ.get("TINYCNN_DATA_DIR") or REPO_ROOT.parent / "shared/data/mnist"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(default_source))
    parser.add_argument("--out", type=Path, default=SUBSET_DIR)
    args = parser.parse_args(argv)
    written = write_subset(args.source, args.out)
    for path in written:
        print(f"{path.stat().st_size:>10,} bytes  {path}")
    print(f"{sum(p.stat().st_size for p in written):>10,} bytes in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
