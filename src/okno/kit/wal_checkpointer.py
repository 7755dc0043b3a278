"""SQLite: the WAL copied into the database file by a thread of its own, not by the writer's COMMIT.

By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: that commit
reads those pages back from the WAL, writes them into the database file and syncs both files
(milliseconds), and the group of webhooks waiting for it waits that long too. Here the writer's
automatic checkpoint only starts at :data:`BACKSTOP_PAGES` (a safety net should this thread stall)
and a daemon thread runs a ``PASSIVE`` checkpoint on a connection of its own every ``every``
seconds (:data:`EVERY_SECONDS`) once something was committed. A passive checkpoint takes no
lock a writer or a reader waits for (SQLite's checkpoint lock only: two processes'
checkpointers take turns), so the writer goes on committing meanwhile; a page written several
times between two checkpoints is copied once.

Crash safety is unchanged: what a checkpoint copies stays in the WAL until the writer's next
transaction starts it over, and the WAL is what a crashed process's successor reads. The WAL
grows to about one interval of commits (a reader holding an old snapshot keeps it from being
started over, as with SQLite's own checkpoints).
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger()

BACKSTOP_PAGES = 20_000  # the writer's own wal_autocheckpoint (~80 MB of 4 KiB pages)
# ~16 WAL pages a webhook message (bench/ingest_wrk.py): at 1,650 msg/s a quarter of a second is
# ~6,500 pages, well under the backstop
EVERY_SECONDS = 0.25


class WalCheckpointer:
    def __init__(self, path: str, *, every: float = EVERY_SECONDS) -> None:
        self.path = path
        self.every = every
        self._committed = threading.Event()  # set after a commit; the thread checkpoints then clears it
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # checkpoints run (tests, diagnostics)

    def committed(self) -> None:
        """After a commit of the writer (the event loop's thread): there is something to copy.
        Starts the thread the first time."""
        self._committed.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="okno-wal-checkpointer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ends the thread without a last checkpoint (a later commit starts it again)."""
        self._stopping.set()
        self._committed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._stopping.clear()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        try:
            # stop() sets _stopping before _committed: once the clear below has swallowed its
            # _committed, the loop's test sees _stopping
            while not self._stopping.is_set():
                self._committed.wait()
                if self._stopping.wait(self.every):
                    return
                self._committed.clear()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                except sqlite3.Error:  # the writer's backstop still checkpoints
                    log.exception("wal_checkpoint_failed", database=self.path)
        finally:
            connection.close()
