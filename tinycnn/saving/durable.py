"""Durable renames: the last step of every atomic write in tinycnn.

Files are written to a temporary name beside the target, fsync-ed, and moved over the target
with ``os.replace`` (atomic on POSIX). The rename itself lives in the folder's entry table, so
the folder is fsync-ed too, or a power cut could forget it.
"""

from __future__ import annotations

import os
from pathlib import Path


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
