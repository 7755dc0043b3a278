"""Helper processes for the batch matcher: the other cores load part of the file and compare
part of the pairs.

Each helper is forked at the start, while the parent is still small: a process forked later
would begin with a copy-on-write view of the whole table, which is cheap but counts in full in
every process's RSS. A helper gets the table once, by value, and then chunks of pairs.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

import numpy as np

from okno.customers.matching.compare_table import TableComparer
from okno.customers.matching.table import PersonTable

MAX_PROCESSES = 4
IN_FLIGHT = 2  # chunks queued per helper, so that it never waits for the parent
_comparer: TableComparer | None = None  # in a helper: the table it was given


def default_helpers(file_bytes: int) -> int:
    """Helpers worth starting for a file this big: one per further core, none for small files."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 0 if file_bytes < 20_000_000 else max(0, min(cores, MAX_PROCESSES) - 1)


@contextmanager
def helper_processes(count: int) -> Iterator[list[ProcessPoolExecutor]]:
    helpers = [ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) for _ in range(count)]
    try:
        for started in [h.submit(os.getpid) for h in helpers]:  # fork now, while this process is small
            started.result()
        yield helpers
    finally:
        for helper in helpers:
            helper.shutdown(wait=True, cancel_futures=True)


def _install(table: PersonTable) -> None:
    global _comparer
    _comparer = TableComparer(table)


def _forget() -> None:
    global _comparer
    _comparer = None


def _compare(li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    assert _comparer is not None, "no table installed in this helper"
    return _comparer(li, ri)


def compare_in_chunks(compare: Callable[[np.ndarray, np.ndarray], np.ndarray], table: PersonTable, li: np.ndarray, ri: np.ndarray, chunk: int,
                      helpers: list[ProcessPoolExecutor] | None = None) -> np.ndarray:  # fmt: skip
    """``compare(li, ri)`` over all pairs, a chunk at a time; with helpers, they take chunks as
    they finish while this process works through the rest. Same result in the same order."""
    starts = deque(range(0, len(li), chunk))
    if not starts:
        return compare(li, ri)
    results: dict[int, np.ndarray] = {}
    pending: list[tuple[int, ProcessPoolExecutor, Future]] = []
    for helper in helpers or []:
        helper.submit(_install, table)  # no waiting: a helper runs its tasks in order

    def feed(helper: ProcessPoolExecutor) -> None:
        if starts:
            start = starts.pop()  # helpers work from the end
            pending.append((start, helper, helper.submit(_compare, li[start : start + chunk], ri[start : start + chunk])))

    for helper in helpers or []:
        for _ in range(IN_FLIGHT):
            feed(helper)
    while starts or pending:
        if starts:
            start = starts.popleft()
            results[start] = compare(li[start : start + chunk], ri[start : start + chunk])
        else:
            pending[0][2].result()  # nothing left here: wait for the helpers
        for item in [p for p in pending if p[2].done()]:
            pending.remove(item)
            results[item[0]] = item[2].result()
            feed(item[1])
    for helper in helpers or []:
        helper.submit(_forget).result()  # its copy of the table is not needed any more
    return np.concatenate([results[start] for start in sorted(results)])
