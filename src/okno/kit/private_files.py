"""Owner-only files: the data folder, the SQLite database with its ``-wal``/``-shm`` and stored
files are created readable by the account that runs okno only (folders 0700, files 0600)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Creates ``path`` (and missing parents) owner-only; an existing folder is narrowed to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o077:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Creates ``path`` empty and owner-only if missing; narrows an existing one to 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(FILE_MODE)


def private_sqlite(url: str) -> None:
    """Before SQLite opens the file of ``url``: it exists owner-only. SQLite creates the
    ``-wal`` and ``-shm`` files with the database file's permissions; older ones are narrowed."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:") or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(FILE_MODE)
