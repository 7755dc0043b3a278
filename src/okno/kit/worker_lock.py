"""One process runs the background workers of a SQLite database.

SQLite's relay and queues read their work through the reader and count on being the only ones
draining it, so the process that starts workers on a SQLite file (``okno serve`` with embedded
workers, or ``okno worker``) holds an exclusive lock on ``<database>.workers.lock``; a second one
is refused with a clear message. The operating system drops the lock when the process dies, so a
crash never leaves it behind. PostgreSQL needs no such lock: its workers lease rows with
``SKIP LOCKED`` and any number of processes can run them.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class WorkersAlreadyRunning(RuntimeError):
    pass


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


class WorkerLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".workers.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise WorkersAlreadyRunning(
                f"the background workers of this SQLite database already run in process {holder}: run one `okno worker` "
                "(with OKNO_EMBEDDED_WORKERS=false for `okno serve`) or embedded workers, not both"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
