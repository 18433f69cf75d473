"""The tutorials open and run as notebooks, as the ``notebooks`` extra promises.

- A tutorial is converted with jupytext and executed cell by cell in a Jupyter kernel with
  nbclient (the ``dev`` extra installs both, so this runs in CI; a missing package skips on a
  laptop and fails in CI).
- Tutorial 9 without TensorFlow stops quietly in a notebook: its message, no ``SystemExit``, no
  traceback (TensorFlow is hidden from the kernel by a stub package on ``PYTHONPATH``).
- The ``notebooks`` extra lists what opening and executing the tutorials needs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, in_ci

TUTORIALS = REPO_ROOT / "tutorials"
pytestmark = pytest.mark.timeout(600)


def notebook_tools():
    """jupytext and nbclient, or a skip (a failure in CI)."""
    try:
        import jupytext
        import nbclient
    except ImportError as error:
        if in_ci():
            pytest.fail(f"the dev extra must install jupytext and nbclient: {error}")
        pytest.skip(f"notebook tools missing: {error}")
    return jupytext, nbclient


def kernel_env(monkeypatch, extra_path: Path | None = None) -> None:
    """Fast tutorial settings for the kernel (it inherits this process's environment)."""
    monkeypatch.setenv("TINYCNN_TUTORIAL_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    paths = [str(extra_path)] if extra_path else []
    paths += [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


def execute(path: Path, tmp_path: Path):
    """The tutorial as a notebook, executed in a python3 kernel: (notebook, error or None)."""
    jupytext, nbclient = notebook_tools()
    from nbclient.exceptions import CellExecutionError

    notebook = jupytext.read(path)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        return notebook, error
    return notebook, None


def outputs(notebook) -> list[dict]:
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def test_a_tutorial_runs_as_a_notebook(monkeypatch, tmp_path):
    kernel_env(monkeypatch)
    notebook, error = execute(TUTORIALS / "01_mnist_idx.py", tmp_path)
    assert error is None, error
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) >= 3 and all(cell.execution_count for cell in code)
    assert not [o for o in outputs(notebook) if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs(notebook))
    assert text.strip(), "the notebook printed nothing"


def test_tutorial_9_without_tensorflow_stops_quietly_in_a_notebook(monkeypatch, tmp_path):
    hidden = tmp_path / "no_tensorflow"
    for package in ("tensorflow", "keras"):
        (hidden / package).mkdir(parents=True)
        (hidden / package / "__init__.py").write_text(
            f"raise ImportError('{package} hidden for this test')\n"
        )
    kernel_env(monkeypatch, hidden)
    notebook, error = execute(TUTORIALS / "09_tensorflow_parity.py", tmp_path)
    assert error is not None  # the run stops at the import cell ...
    shown = outputs(notebook)
    errors = [o for o in shown if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "TensorFlowMissingError"
    assert errors[0]["traceback"] == []  # ... and shows no traceback
    assert not [o for o in shown if "SystemExit" in str(o)]
    text = "".join(o.get("text", "") for o in shown)
    assert "TUTORIAL SKIPPED: TensorFlow is not installed" in text


def test_tutorial_9_as_a_script_without_tensorflow_exits_with_success(tmp_path):
    import subprocess

    hidden = tmp_path / "no_tensorflow"
    for package in ("tensorflow", "keras"):
        (hidden / package).mkdir(parents=True)
        (hidden / package / "__init__.py").write_text("raise ImportError('hidden')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), str(REPO_ROOT)])}
    env["TINYCNN_TUTORIAL_FAST"] = "1"
    result = subprocess.run(
        [sys.executable, str(TUTORIALS / "09_tensorflow_parity.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "TUTORIAL SKIPPED" in result.stdout


def test_notebooks_extra_installs_what_opening_and_running_needs():
    import tomllib  # Python >= 3.11, as CI and the docs build use

    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(extra: str) -> set[str]:
        return {spec.split(">")[0].split("=")[0].split("[")[0].strip() for spec in extras[extra]}

    notebooks = names("notebooks")
    assert {"jupytext", "nbclient", "nbconvert", "ipykernel"} <= notebooks
    assert notebooks & {"notebook", "jupyterlab"}
    assert {"jupytext", "nbclient", "ipykernel"} <= names("dev")  # so this file runs in CI
