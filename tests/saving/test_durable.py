"""Temporary files of interrupted saves are removed by the next save (issue 17, finding 7)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from badfiles import tiny_model

from tinycnn.model import load_model
from tinycnn.saving.durable import atomic_write, remove_stale_temps
from tinycnn.saving.io import save_model


def dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_save_removes_temporaries_of_dead_writers_only(tmp_path):
    path = tmp_path / "m.npz"
    dead = tmp_path / f".m.npz.{dead_pid()}.k2j4h5g6.tmp"
    alive_other = tmp_path / ".m.npz.1.abcdefgh.tmp"  # pid 1 runs (init), keep its file
    ours = tmp_path / f".m.npz.{os.getpid()}.zzzzzzzz.tmp"  # another thread of ours may write
    other_name = tmp_path / f".other.npz.{dead_pid()}.aaaaaaaa.tmp"  # not this file's
    for stray in (dead, alive_other, ours, other_name):
        stray.write_bytes(b"x" * 1000)
    save_model(tiny_model(), path)
    assert not dead.exists()
    assert alive_other.exists() and ours.exists() and other_name.exists()
    load_model(path)


def test_remove_stale_temps_reports_what_it_removed(tmp_path):
    stray = tmp_path / f".a.npz.{dead_pid()}.q1w2e3r4.tmp"
    stray.write_bytes(b"")
    assert remove_stale_temps(tmp_path / "a.npz") == [stray]
    assert remove_stale_temps(tmp_path / "a.npz") == []


def test_atomic_write_replaces_the_file_or_leaves_it_as_it_was(tmp_path):
    path = tmp_path / "a.json"
    atomic_write(path, lambda file: file.write("old"))
    assert path.read_text() == "old" and path.stat().st_mode & 0o044  # not mkstemp's 0600

    def fails_midway(file):
        file.write("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(path, fails_midway)
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]
    atomic_write(path, lambda file: file.write(b"new"), "wb")
    assert path.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [path]
