"""Making a file or a folder durable by name (a folder: the names in it)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path, missing_ok: bool = False) -> None:
    """fsync what `path` names now; no descriptor is kept, since the file may be replaced
    between two calls (SQLite's WAL, a release switch). `missing_ok`: nothing to do when
    the path does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
