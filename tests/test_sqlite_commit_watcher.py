"""The SQLite worker's commit watcher (kit/wake_bridge.py): another process's commit wakes the
queues; with ``own_commits`` (the hand-off's worker) a change in an interval in which this
process committed too wakes nothing, since the serving processes send their wakes themselves."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from okno.kit.wake_bridge import SQLiteCommitWatcher

INTERVAL = 0.02


def _commit(path: Path, n: int) -> None:
    with sqlite3.connect(path) as connection:  # another connection, as another process would
        connection.execute("INSERT INTO t VALUES (?)", (n,))


async def _wakes_after(wakes: list[int], change) -> int:  # noqa: ANN001
    before = len(wakes)
    change()
    await asyncio.sleep(INTERVAL * 6)
    return len(wakes) - before


async def test_a_foreign_commit_wakes_and_an_interval_with_own_commits_does_not(tmp_path: Path) -> None:
    path = tmp_path / "okno.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (n INTEGER)")
    own = [0]
    wakes: list[int] = []
    plain_wakes: list[int] = []
    plain = SQLiteCommitWatcher(path, lambda: plain_wakes.append(1), interval=INTERVAL)
    filtered = SQLiteCommitWatcher(path, lambda: wakes.append(1), interval=INTERVAL, own_commits=lambda: own[0])
    plain.start()
    filtered.start()
    try:
        await asyncio.sleep(INTERVAL * 3)
        assert await _wakes_after(wakes, lambda: _commit(path, 1)) == 1  # nobody here committed: another process did

        def own_commit() -> None:
            own[0] += 1
            _commit(path, 2)

        plain_before = len(plain_wakes)
        assert await _wakes_after(wakes, own_commit) == 0
        assert len(plain_wakes) - plain_before == 1  # without own_commits every change wakes
        assert await _wakes_after(wakes, lambda: _commit(path, 3)) == 1
        assert await _wakes_after(wakes, lambda: None) == 0  # no change, no wake
    finally:
        await plain.stop()
        await filtered.stop()
