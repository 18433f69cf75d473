"""Run the README's sample command and print (or write into the README) what it prints.

The README shows ``tinycnn train --epochs 1 --seed 0`` on a machine without the MNIST files and
without internet. This script reproduces exactly that situation, so the README's block is the
command's real output:

- no full MNIST: ``TINYCNN_DATA_DIR`` unset and an empty cache folder (``XDG_CACHE_HOME`` set to
  a temporary folder);
- no internet: the download mirrors emptied (as ``tests/data/test_download.py`` does), so the
  command falls back to the embedded subset and says so;
- one thread per pool (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1``), the
  default backend, in a temporary working folder (the command writes ``model.npz`` there).

The command's stderr (the fallback notice) is merged into its stdout in the order written.
Timings (``66s``) vary from run to run; every other character is reproducible, and
``tests/documentation/test_readme.py`` reruns this script and compares the lines.

Usage::

    python scripts/readme_sample.py           # print the output
    python scripts/readme_sample.py --write   # also replace the README's sample block
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
COMMAND = ["train", "--epochs", "1", "--seed", "0"]
THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")
# The README's block: the fenced block right after the sentence naming the command.
BLOCK = re.compile(r"(this is `tinycnn train --epochs 1 --seed 0` there:\n\n```\n)(.*?)(```)", re.S)


def run_sample() -> str:
    """The output of ``tinycnn train --epochs 1 --seed 0`` offline, without full MNIST."""
    if any(os.environ.get(name) != "1" for name in THREADS):
        raise SystemExit(
            "run with " + " ".join(f"{name}=1" for name in THREADS) + " (set before NumPy loads)"
        )
    os.environ.pop("TINYCNN_DATA_DIR", None)
    from tinycnn.cli import main
    from tinycnn.data import download

    download.MIRRORS = ()  # no internet
    output = io.StringIO()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XDG_CACHE_HOME"] = str(Path(folder) / "cache")  # an empty cache
        os.chdir(folder)
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            status = main(COMMAND)
        os.chdir(REPO_ROOT)
    if status not in (0, None):
        raise SystemExit(f"tinycnn {' '.join(COMMAND)} failed ({status}):\n{output.getvalue()}")
    return output.getvalue()


def readme_block(text: str) -> str:
    """The sample output shown in the README."""
    match = BLOCK.search(text)
    if match is None:
        raise ValueError(f"{README}: the sample-output block after the command was not found")
    return match.group(2)


def without_timings(output: str) -> list[str]:
    """The output's lines with durations (``66s``, ``67s of training``) masked."""
    return [re.sub(r"\b\d+(\.\d+)?s\b", "<t>s", line) for line in output.strip().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the README's sample block")
    args = parser.parse_args()
    output = run_sample()
    print(output, end="")
    if args.write:
        text = README.read_text()
        readme_block(text)  # check it is there
        README.write_text(BLOCK.sub(lambda m: m.group(1) + output + m.group(3), text, count=1))


if __name__ == "__main__":
    main()
