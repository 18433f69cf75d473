"""``tinycnn experiment``: the same tiny grid gives identical results with ``--jobs 1``,
``--jobs 2`` and a 2-worker Dask ``LocalCluster``; an interrupted grid resumes."""

from __future__ import annotations

import json

import pytest
from conftest import in_ci

from tinycnn.cli import main
from tinycnn.teach.experiment_grid import format_table, make_runs, run_file, run_grid, summarise

GRID = {
    "configs": {
        "cnn": {"model": "cnn", "epochs": 1},
        "bn cosine augment": {
            "model": "cnn_bn",
            "schedule": "cosine",
            "augment": True,
            "epochs": 1,
        },
    },
    "seeds": [0, 1],
}
DATA = ["--subset", "--limit", "300"]


def import_dask_distributed():
    """dask.distributed: skip on a laptop without the cluster extra, fail in CI (it installs it)."""
    try:
        import dask.distributed
    except ImportError as error:
        if in_ci():
            pytest.fail(f"dask.distributed is required in CI (the cluster extra): {error}")
        pytest.skip(f"dask.distributed is not installed: {error}")
    return dask.distributed


def outcome(folder):
    """Every run's numbers (not its wall time), by file name."""
    runs = {}
    for path in sorted((folder / "runs").glob("*.json")):
        result = json.loads(path.read_text())
        runs[path.name] = {k: v for k, v in result.items() if k != "seconds"}
    return runs


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "grid.json"
    path.write_text(json.dumps(GRID))
    return path


@pytest.fixture(scope="module")
def jobs_1(grid_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("jobs1")
    assert (
        main(["experiment", "--grid", str(grid_file), *DATA, "--jobs", "1", "--out", str(out)]) == 0
    )
    return out


def test_the_grid_is_tabulated_and_saved(jobs_1, capsys):
    results = json.loads((jobs_1 / "results.json").read_text())
    table = results["table"]
    assert results["protocol"].startswith("embedded subset, first 300 training images, 10% held")
    assert list(table) == ["cnn", "bn cosine augment"]
    assert sorted(table["cnn"]["per_seed"]) == ["0", "1"]
    for row in table.values():
        assert row["min"] <= row["median"] <= row["max"] and 0.15 < row["median"] <= 1.0
    assert len(outcome(jobs_1)) == 4
    assert (jobs_1 / "results.png").stat().st_size > 1000
    lines = format_table(table)
    assert lines[1].startswith("cnn ") and "%" in lines[1]


def test_jobs_2_gives_identical_results(grid_file, jobs_1, tmp_path):
    assert (
        main(["experiment", "--grid", str(grid_file), *DATA, "--jobs", "2", "--out", str(tmp_path)])
        == 0
    )
    assert outcome(tmp_path) == outcome(jobs_1)


def test_a_dask_local_cluster_gives_identical_results(grid_file, jobs_1, tmp_path):
    distributed = import_dask_distributed()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        command = ["experiment", "--grid", str(grid_file), *DATA, "--out", str(tmp_path)]
        assert main([*command, "--scheduler", cluster.scheduler_address]) == 0
    assert outcome(tmp_path) == outcome(jobs_1)


def test_an_interrupted_grid_resumes_without_redoing_finished_runs(jobs_1, tmp_path):
    data = {"subset": True, "data": None, "limit": 300, "validation_split": 0.1}
    runs = make_runs(GRID["configs"], GRID["seeds"], data)
    (tmp_path / "runs").mkdir()
    for spec in runs[:3]:  # as if stopped after three runs
        path = run_file(tmp_path, spec)
        path.write_text((jobs_1 / "runs" / path.name).read_text())
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    lines = []
    results = run_grid(runs, tmp_path, jobs=1, report=lines.append)
    assert lines[0] == f"3 of 4 runs already done in {tmp_path}" and len(lines) == 2
    assert {
        p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir() if p.name in before
    } == before
    assert outcome(tmp_path) == outcome(jobs_1)
    assert (
        summarise(results)["cnn"]["per_seed"]
        == json.loads((jobs_1 / "results.json").read_text())["table"]["cnn"]["per_seed"]
    )


def test_a_stored_run_of_other_settings_is_refused(jobs_1, tmp_path):
    data = {"subset": True, "data": None, "limit": 200, "validation_split": 0.1}
    spec = make_runs({"cnn": {"model": "cnn", "epochs": 1}}, [0], data)[0]
    run_file(tmp_path, spec).parent.mkdir(parents=True)
    run_file(tmp_path, spec).write_text((jobs_1 / "runs" / "cnn-seed0.json").read_text())
    with pytest.raises(ValueError, match="holds a run with other settings"):
        run_grid([spec], tmp_path)
    with pytest.raises(ValueError, match="model must be one of"):
        make_runs({"x": {"model": "vgg"}}, [0], data)
