"""``ChannelDirectory.cached``: the webhook fast path's lookup without a coroutine answers what
``find`` would while the entry is fresh, and defers to ``find`` otherwise."""

from __future__ import annotations

import time

from okno.channels.directory import ChannelDirectory


def test_cached_answers_a_fresh_entry_and_defers_once_expired_or_invalidated() -> None:
    directory = ChannelDirectory(db=None, box=None, ttl=10.0)  # type: ignore[arg-type]
    assert directory.cached(1) is False  # never read: find reads it
    live = object()
    directory._entries[1] = (time.monotonic() + 10, live)  # noqa: SLF001 (as find stores it)
    directory._entries[2] = (time.monotonic() + 10, None)  # noqa: SLF001 (no such channel, cached too)
    directory._entries[3] = (time.monotonic() - 1, live)  # noqa: SLF001 (expired)
    assert directory.cached(1) is live
    assert directory.cached(2) is None
    assert directory.cached(3) is False
    directory.invalidate(1)
    assert directory.cached(1) is False
