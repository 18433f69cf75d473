"""The README's promises: its Python example runs and its commands exist."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO_ROOT

from tinycnn.cli import COMMANDS, main

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
    assert accuracy > 90.0  # one epoch on 9,000 images; the README's run printed 95.20%
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
