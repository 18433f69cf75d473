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
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


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


def atomic_write(path: Path, write: Callable[[IO[Any]], None], mode: str = "w") -> None:
    """Write ``path`` through ``write(file)``, atomically.

    ``write`` fills a temporary file beside ``path`` (opened with ``mode``, ``"w"`` or ``"wb"``),
    which is fsync-ed and moved over ``path`` with ``os.replace``, then the folder is fsync-ed;
    the temporaries of writers killed mid-write are removed first. On any failure the temporary
    file is removed and ``path`` keeps its old content. The file gets the usual permissions
    (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
    """
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temps(path)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(path), suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
