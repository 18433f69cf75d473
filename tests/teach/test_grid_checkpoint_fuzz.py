"""Fuzzing the two other documents tinycnn reads: experiment grids and training checkpoints.

As ``tests/saving/test_io_fuzz.py`` does for model files, hypothesis edits a valid document at any
place (a JSON value anywhere in it, or characters spliced into its text) and the reader must
either accept it, giving something that works, or refuse it with one clear line:

- a grid file: ``tinycnn experiment``'s checks (:func:`tinycnn.cli.experiment.read_grid`
  and :func:`tinycnn.teach.experiment_grid.make_runs`) accept it, and then every run's
  settings are of the right types and ranges, or raise a one-line ``ValueError`` naming
  ``--grid FILE``;
- a checkpoint: resuming from it (``fit(..., resume=path)``) trains on to a finite loss, or
  raises a one-line ``ValueError`` that starts with the file's path; never another exception.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from badfiles import json_paths, json_replace, json_values, tiny_model, write_npz
from helpers_train import small_mnist
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycnn.cli.experiment import read_grid
from tinycnn.saving.io import read_npz
from tinycnn.teach.experiment_grid import DEFAULTS, make_runs
from tinycnn.zoo import MODELS

pytestmark = pytest.mark.timeout(600)
GRID = {
    "configs": {
        "cnn": {"model": "cnn", "epochs": 2, "lr": 1e-3, "batch_size": 32},
        "bn": {"model": "cnn_bn", "schedule": "cosine", "augment": True, "jit_compile": False},
    },
    "seeds": [0, 1, 2],
}
DATA = {"subset": True, "data": None, "limit": None, "validation_split": 0.1}
X, Y = (array[:16] for array in small_mnist(n_train=96, n_test=8)[0])
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def edits(draw: Any, document: Any) -> tuple[str, Any]:
    """A JSON value put anywhere in ``document``, or characters spliced into its text."""
    if draw(st.booleans()):
        return "value", (draw(st.sampled_from(json_paths(document))), draw(json_values))
    return "text", (draw(st.floats(0, 1)), draw(st.integers(0, 12)), draw(st.text(max_size=12)))


def edited_text(document: Any, edit: tuple[str, Any]) -> str:
    kind, recipe = edit
    if kind == "value":
        where, value = recipe
        return json.dumps(json_replace(json.loads(json.dumps(document)), where, value))
    where, cut, text = recipe
    plain = json.dumps(document)
    at = int(where * len(plain))
    return plain[:at] + text + plain[at + cut :]


def one_line(error: BaseException, start: str) -> None:
    message = str(error)
    assert message.startswith(start), message
    assert "\n" not in message and len(message) < 800, message


@FUZZ
@given(edit=edits(GRID))
def test_edited_grid_files_are_accepted_whole_or_refused_in_one_line(tmp_path: Path, edit):
    path = tmp_path / "grid.json"
    path.write_text(edited_text(GRID, edit))
    try:
        configs, seeds = read_grid(path)
        runs = make_runs(configs, [0] if seeds is None else seeds, DATA)
    except ValueError as error:
        if str(error).startswith("--grid"):
            return one_line(error, f"--grid {path}: ")
        return one_line(error, "")  # make_runs's own: the CLI adds the file name
    assert runs and len({(r["config"], r["seed"]) for r in runs}) == len(runs)
    for run in runs:
        full = run["settings"]
        assert set(full) == set(DEFAULTS) | {"model"} and full["model"] in MODELS
        assert type(full["epochs"]) is int and full["epochs"] >= 1
        assert type(full["batch_size"]) is int and full["batch_size"] >= 1
        assert math.isfinite(full["lr"]) and full["lr"] > 0
        assert type(full["augment"]) is bool and type(full["jit_compile"]) is bool
        assert full["schedule"] in ("constant", "cosine")
        assert type(run["seed"]) is int and 0 <= run["seed"] < 2**32


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint after epoch 1 of a run with 2 batches (of 8) per epoch, and its parts."""
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt.npz"
    tiny_model().fit(X, Y, epochs=1, batch_size=8, verbose=0, checkpoint=path, seed=0)
    arrays = read_npz(path)
    return json.loads(str(arrays.pop("meta"))), arrays


@FUZZ
@given(data=st.data())
def test_edited_checkpoints_resume_or_are_refused_in_one_line(tmp_path: Path, checkpoint, data):
    meta, arrays = checkpoint
    edit = data.draw(edits(meta["checkpoint"]))
    state_text = edited_text(meta["checkpoint"], edit)
    text = json.dumps({**meta, "checkpoint": "STATE"}).replace('"STATE"', state_text)
    path = write_npz(tmp_path / "fuzzed.ckpt.npz", text, dict(arrays))
    model = tiny_model()
    try:
        history = model.fit(X, Y, epochs=2, batch_size=8, verbose=0, resume=path, seed=0)
    except ValueError as error:
        return one_line(error, str(path))
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
