"""The README's promises: its Python example runs and its commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO_ROOT

from tinycnn.cli import COMMANDS, main

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import readme_sample  # noqa: E402

README = (REPO_ROOT / "README.md").read_text()


def test_python_example_runs_and_reaches_a_sensible_accuracy(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) == 1, "the README has one Python example"
    assert len(blocks[0].strip().splitlines()) <= 20
    done = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "Total params: 225,034" in done.stdout
    accuracy = float(re.search(r"test accuracy (\d+\.\d+)%", done.stdout).group(1))
    assert accuracy > 90.0  # one epoch on 9,000 images
    assert "OK: max rel error" in done.stdout


def test_every_command_in_the_readme_exists(capsys):
    named = set(re.findall(r"`tinycnn ([a-z][a-z-]*)", README))
    assert {"train", "evaluate", "predict", "serve", "gradcheck", "bench"} <= named
    assert named <= set(COMMANDS) | {"train"}
    for command in sorted(named):
        try:
            main([command, "--help"])
        except SystemExit as stop:
            assert stop.code == 0
        assert f"usage: tinycnn {command}" in capsys.readouterr().out


def test_readme_sample_output_is_what_the_command_prints():
    """Rerun scripts/readme_sample.py under its documented settings and compare with the README.

    On a failure after an intended change, refresh the block with
    ``python scripts/readme_sample.py --write`` (one thread per pool, as the script asks).
    """
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["NUMBA_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "readme_sample.py")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    shown = readme_sample.without_timings(readme_sample.readme_block(README))
    printed = readme_sample.without_timings(done.stdout)
    accuracy = [line for line in printed if line.startswith("Test accuracy:")]
    assert len(accuracy) == 1 and accuracy[0] in shown, (accuracy, shown)
    assert printed == shown


def test_readme_sample_masks_only_timings():
    lines = readme_sample.without_timings("141/141 - 66s - loss: 0.72\nSaved (2.5s of training)")
    assert lines == ["141/141 - <t>s - loss: 0.72", "Saved (<t>s of training)"]
