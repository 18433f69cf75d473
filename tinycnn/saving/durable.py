"""Durable renames: the last step of every atomic write in tinycnn.

Files are written to a temporary name beside the target, fsync-ed, and moved over the target
with ``os.replace`` (atomic on POSIX). The rename itself lives in the folder's entry table, so
the folder is fsync-ed too, or a power cut could forget it.

A process killed mid-write (``kill -9``, a power cut) cannot remove its temporary file. The
temporary name carries the writer's process id, ``.<name>.<pid>.<random>.tmp``, so the next save
to the same name removes the temporaries whose writer is gone (:func:`remove_stale_temps`), and
never one that a live process is still writing.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def check_writable(path: str | os.PathLike, what: str) -> None:
    """Refuse, before any long work, a file name that an atomic write could not replace.

    Raises
    ------
    ValueError
        ``path`` is a folder, its folder does not exist, or a temporary file cannot be created
        beside it (found by creating and removing one, which also works for root).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path}: is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{what} {path}: folder {folder} does not exist")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=temp_prefix(path), suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ValueError(f"{what} {path}: cannot write in {folder} ({error.strerror})") from None


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_prefix(path: Path) -> str:
    """The prefix of this process's temporary files for ``path`` (for ``tempfile.mkstemp``)."""
    return f".{path.name}.{os.getpid()}."


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporary files left beside ``path`` by writers that no longer run.

    Returns
    -------
    list of Path
        The files removed.
    """
    folder = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.[^.]+\.tmp")
    removed: list[Path] = []
    try:
        candidates = list(folder.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match and not _process_alive(int(match.group(1))):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2**22  # exists, owned by someone else (or an impossible pid: stale)
    return True
