"""The garbage collector's settings for a long-running okno process (``okno serve``, ``okno worker``).

Two measured costs, both on the ingest path (``bench/ingest_wrk.py``, ``okno serve`` under 32
webhook senders, the collector's own time read through ``gc.callbacks``):

* a **full collection** walked everything startup built (modules, models, compiled statements,
  ~180k objects): ~0.1 s each time one ran in the middle of requests. Startup's heap is frozen
  (``gc.freeze``) once it is built, so collections skip it.
* **young collections** at CPython's default threshold (700 allocations) ran ~400 times in 5,000
  messages, ~0.3 ms each, and promoted a batch's in-flight rows often enough to trigger full
  collections: ~35 µs of the event loop's CPU per message in all. At 10,000 they run every
  ~800 messages for ~4.5 ms each, with no full collection in the run: ~9 µs per message. A pause of
  that size stays far below the 50 ms p99 target; cycles are still found, only in larger rounds.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Called once startup is done: startup's garbage collected, the rest frozen, young
    collections spaced out. Never in tests' shared process (it changes the whole process)."""
    gc.collect()  # startup's own garbage first: frozen objects are never collected
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
