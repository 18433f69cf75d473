"""The reproducibility page runs as written and its figures are what its code prints.

``docs/guides/reproducibility.md`` holds Python blocks (run in order as one script, in an empty
folder, one BLAS thread), a ``last_bits.py`` file and the shell commands that run it with one and
two OpenBLAS threads. This test runs all of them and checks every statement the page makes about
their output: the printed lines of the script, and for ``last_bits.py`` that two-thread runs
agree bit for bit while one- and two-thread runs differ by less than 1e-5. The exact line the page
quotes (how many weights differ, by how much) depends on OpenBLAS's kernels; it is compared
exactly where the OpenBLAS version and kernel architecture are those the page names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "guides" / "reproducibility.md"
TEXT = PAGE.read_text(encoding="utf-8")
pytestmark = pytest.mark.timeout(600)


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, re.S | re.M)


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("TINYCNN_DATA_DIR",)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return env


def test_the_page_is_in_the_docs_toctree():
    index = (REPO_ROOT / "docs" / "index.md").read_text()
    assert "guides/reproducibility" in index


def test_the_python_blocks_print_what_the_page_says(tmp_path):
    script = "\n\n".join(b for b in blocks("python") if not b.startswith("# last_bits.py"))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.splitlines()
    assert printed == [
        "seed 0 twice, the same bits: True",
        "seed 1, other weights: True",
        "a run without a seed recorded int seed",
        "stopped after epoch 1 and resumed, the same bits: True",
    ]
    says = " ".join(TEXT.split())
    assert "It prints `True`, `True` and `a run without a seed recorded int seed`." in says
    assert "never stopped:" in says and "It prints `True`." in says


def openblas() -> tuple[str, str] | None:
    """(version, kernel architecture) of the OpenBLAS NumPy uses, or None."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("internal_api") == "openblas":
            return str(pool.get("version")), str(pool.get("architecture"))
    return None


@pytest.mark.slow
def test_one_and_two_blas_threads_differ_in_the_last_bits_only(tmp_path):
    (last_bits,) = (b for b in blocks("python") if b.startswith("# last_bits.py"))
    (tmp_path / "last_bits.py").write_text(last_bits)
    (console,) = blocks("console")
    commands = [line[2:] for line in console.splitlines() if line.startswith("$ ")]
    assert len(commands) == 4 and "OPENBLAS_NUM_THREADS=2" in commands[1]
    env = environment()
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command.replace("python ", f"{sys.executable} ", 1)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
    line = done.stdout.strip()
    match = re.fullmatch(
        r"(\d+) of (\d+) weights differ, by at most (\S+); (\d+) between the two-thread runs", line
    )
    assert match, line
    differ, total, largest, between = match.groups()
    assert int(between) == 0  # the same thread count: the same bits
    assert 0 < int(differ) <= int(total) == 225_034  # another thread count: other last bits
    assert 0 < float(largest) < 1e-5
    quoted = re.search(r"this printed\s+`([^`]+)`", TEXT)
    assert quoted, "the page's measured line moved"
    named = re.search(r"OpenBLAS (\d+\.\d+\.\d+), its (\w+)\s+kernels", TEXT)
    assert named
    found = openblas()
    if found and found[0].startswith(named.group(1)) and found[1] == named.group(2):
        assert line == quoted.group(1)
