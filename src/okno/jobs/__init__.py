"""Durable background jobs: long work (matcher estimation, re-indexing, exports, bot calls) that
must never run inside a request. ``queue`` records them in the caller's transaction, ``worker``
leases and runs them; handlers are registered by kind in :mod:`okno.bootstrap`."""
