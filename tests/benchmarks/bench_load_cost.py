"""The cost of loading a model file, against the file's size (issue 24).

``tinycnn.saving.validate`` bounds what a file's entries may inflate to by the file's size
(``MAX_INFLATION`` times it plus ``INFLATION_ALLOWANCE``), so loading costs memory and time in
proportion to the bytes on disk. This script measures it:

1. a *deflate bomb under the old limits*: a 0.5 MB file whose zero weights inflate to 480 MB
   (a valid model, under ``MAX_TOTAL_BYTES``), timed and traced until ``load_model`` refuses it;
2. real, uncompressed model files of a few sizes: the load time and the peak memory traced by
   ``tracemalloc`` (which sees NumPy's allocations), and both per byte of file.

Usage::

    python tests/benchmarks/bench_load_cost.py                    # with the bound
    python tests/benchmarks/bench_load_cost.py --without-bound    # also the bomb without it
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

from tinycnn.layers import Dense, Flatten
from tinycnn.model import Sequential, load_model
from tinycnn.saving import io as tio
from tinycnn.saving import validate


def dense_model(D: int, units: int) -> Sequential:
    """Flatten - Dense(units) on (D, 1, 1) inputs: D * units weights."""
    return Sequential([Flatten(), Dense(units)], input_shape=(D, 1, 1), seed=0)


def measure(path: Path) -> tuple[float, int, str]:
    """(seconds, peak traced bytes, outcome) of ``load_model(path)``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        load_model(path)
        outcome = "loaded"
    except ValueError as error:
        outcome = f"refused: {str(error)[len(str(path)) + 2 :][:70]}..."
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, outcome


def write_bomb(path: Path) -> Path:
    """A valid model of 120 M zero weights (480 MB), deflated into about 0.5 MB."""
    model = Sequential([Flatten(), Dense(12_000)], input_shape=(10_000, 1, 1), seed=0)
    for layer in model.layers:
        for key in layer.params:
            layer.params[key][...] = 0
    meta, arrays = tio.model_meta(model)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("meta.npy", _npy(tio.meta_array(meta)))
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, value, allow_pickle=False)
    return path


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def main() -> None:
    print(
        f"bound: entries inflate to at most {validate.MAX_INFLATION} x file size + "
        f"{validate.INFLATION_ALLOWANCE:,} bytes"
    )
    limit = validate.MAX_INFLATION
    with tempfile.TemporaryDirectory() as folder:
        bomb = write_bomb(Path(folder) / "bomb.npz")
        seconds, peak, outcome = measure(bomb)
        size = bomb.stat().st_size
        print(f"deflate bomb {size / 1e6:.2f} MB: {seconds:.3f} s, peak {peak / 1e6:.1f} MB")
        print(f"  {outcome}")
        if "--without-bound" in sys.argv:  # the cost before issue 24's bound
            validate.MAX_INFLATION = 10**9
            seconds, peak, outcome = measure(bomb)
            validate.MAX_INFLATION = limit
            print(f"  without the bound: {seconds:.1f} s, peak {peak / 1e6:.0f} MB, {outcome}")
        print(f"{'file MB':>8} {'load s':>8} {'peak MB':>8} {'s per MB':>9} {'peak / size':>11}")
        for units in (250, 1_250, 2_500):
            path = Path(folder) / f"m{units}.npz"
            dense_model(10_000, units).save(str(path))
            seconds, peak, outcome = measure(path)
            size = path.stat().st_size
            assert outcome == "loaded", outcome
            print(
                f"{size / 1e6:8.1f} {seconds:8.3f} {peak / 1e6:8.1f} {seconds / (size / 1e6):9.4f} "
                f"{peak / size:11.2f}"
            )


if __name__ == "__main__":
    main()
