"""``tinycnn experiment``: the same tiny grid gives identical results with ``--jobs 1``,
``--jobs 2`` and a 2-worker Dask ``LocalCluster``; an interrupted grid resumes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

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


# -- stopping, checking, failing (issue 24) -------------------------------------------------
def experiment_command(grid_file, out, *extra):
    return [
        sys.executable, "-m", "tinycnn", "experiment", "--grid", str(grid_file), "--subset",
        "--limit", "200", "--out", str(out), *extra,
    ]  # fmt: skip


def children_of(out):
    """Processes still running a run of the grid in ``out`` (from /proc, Linux)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "tinycnn.teach.experiment_grid" in text and str(out) in text:
            found.append(cmdline.parent.name)
    return found


def test_ctrl_c_stops_running_and_queued_runs_and_a_rerun_trains_only_the_rest(tmp_path):
    """Issue 24's acceptance: SIGINT after the first of 5 runs finishes: exit 130 within 5 s,
    one result file, no child left; the rerun trains the other 4 only."""
    grid_file = tmp_path / "grid.json"
    grid = {"configs": {"dense": {"model": "dense", "epochs": 1}}, "seeds": [0, 1, 2, 3, 4]}
    grid_file.write_text(json.dumps(grid))
    out = tmp_path / "out"
    parent = subprocess.Popen(
        experiment_command(grid_file, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    give_up = time.monotonic() + 300
    while not list((out / "runs").glob("*.json")):
        assert parent.poll() is None, parent.communicate()
        assert time.monotonic() < give_up, "the first run never finished"
        time.sleep(0.02)
    parent.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = parent.communicate(timeout=120)
    elapsed = time.monotonic() - sent
    assert parent.returncode == 130, (stdout, stderr)
    assert elapsed < 5.0, f"exit took {elapsed:.1f} s after SIGINT"
    assert "interrupted: 1 of 5 runs are finished" in stdout
    assert children_of(out) == []
    files = list((out / "runs").glob("*.json"))
    assert [p.name for p in files] == ["dense-seed0.json"]
    stamp = files[0].stat().st_mtime_ns
    again = subprocess.run(
        experiment_command(grid_file, out, "--jobs", "2"), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "1 of 5 runs already done" in again.stdout
    trained = [line for line in again.stdout.splitlines() if ": test accuracy" in line]
    assert sorted(trained)[0].startswith("dense, seed 1") and len(trained) == 4
    assert files[0].stat().st_mtime_ns == stamp
    assert len(list((out / "runs").glob("*.json"))) == 5


def test_a_failing_run_is_one_line_naming_it(tmp_path, capsys):
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps({"configs": {"d": {"model": "dense", "epochs": 1}}}))
    empty = tmp_path / "no-mnist-here"
    empty.mkdir()
    command = ["experiment", "--grid", str(grid_file), "--data", str(empty), "--seeds", "2"]
    assert main([*command, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("tinycnn experiment: error: run 'd', seed 0 failed: "), err
    assert "MnistNotFoundError" in err and "train-images-idx3-ubyte" in err, err
    assert list((tmp_path / "out" / "runs").glob("*.json")) == []


def test_dask_problems_are_one_line_naming_the_address(tmp_path, monkeypatch, capsys):
    import tinycnn.teach.experiment_grid as grid

    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps({"configs": {"d": {"model": "dense", "epochs": 1}}}))

    def refused(address):
        command = ["experiment", "--grid", str(grid_file), "--subset", "--seeds", "1"]
        assert main([*command, "--out", str(tmp_path / "out"), "--scheduler", address]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "internal error" not in err, err
        assert f"error: cannot use a Dask scheduler at {address}: " in err, err
        return err

    monkeypatch.setattr(grid, "DASK_TIMEOUT", 2)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there
    refused(f"tcp://127.0.0.1:{port}")
    with socket.create_server(("127.0.0.1", 0)) as listener:  # not Dask: answers HTTP noise
        stop = threading.Event()

        def answer_noise():
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\xff" * 64)

        thread = threading.Thread(target=answer_noise, daemon=True)
        thread.start()
        err = refused(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        stop.set()
        thread.join(10)
    assert "EiB" not in err and "out of memory" not in err
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as without the cluster extra
    assert "dask.distributed is not installed" in refused("tcp://127.0.0.1:8786")
