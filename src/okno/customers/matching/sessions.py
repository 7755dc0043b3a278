"""Pairs for the EM training sessions (:func:`~okno.customers.matching.em.estimate_m`): for
each session, pairs of records that agree exactly on the session's fields, found by blocking on
those fields alone (as Splink's ``estimate_parameters_using_expectation_maximisation`` blocks on
its training rule), then compared on everything."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from okno.customers.matching.blocking import KIND_BITS, candidate_pairs, combine
from okno.customers.matching.em import session_fields
from okno.customers.matching.fields import MAX_BLOCK_SIZE
from okno.customers.matching.table import PersonTable

KEYS = frozenset({"email", "phone"})  # one of them shared is enough; other fields must all agree


def session_pairs(table: PersonTable, fields: tuple[str, ...], *, sample: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``sample`` random pairs ``(li, ri)`` agreeing exactly on ``fields``; blocks of more
    than ``MAX_BLOCK_SIZE`` records (a very common name) are left out, as in blocking."""
    rows = np.arange(table.size, dtype=np.int64)
    keys, owners = [], []
    groups = [(f,) for f in fields] if set(fields) <= KEYS else [fields]
    for number, group in enumerate(groups):
        parts = [getattr(table, name).codes.astype(np.int64) for name in group]
        present = np.logical_and.reduce([p != 0 for p in parts])
        if present.any():
            keys.append((number << KIND_BITS) | combine(*(p[present] for p in parts)))
            owners.append(rows[present])
    if not keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    li, ri, _ = candidate_pairs(np.concatenate(keys), np.concatenate(owners), table.size, max_block=MAX_BLOCK_SIZE)
    if len(li) > sample:
        pick = np.sort(np.random.default_rng(seed).choice(len(li), size=sample, replace=False))
        li, ri = li[pick], ri[pick]
    return li, ri


def training_sessions(table: PersonTable, compare: Callable[[np.ndarray, np.ndarray], np.ndarray], candidate_gamma: np.ndarray, *,
                      sample: int) -> list[tuple[tuple[str, ...], np.ndarray]]:  # fmt: skip
    """``(fields, levels)`` per session, the sessions chosen from the candidates' levels."""
    out = []
    for fields in session_fields(candidate_gamma):
        li, ri = session_pairs(table, fields, sample=sample)
        out.append((fields, compare(li, ri)))
    return out
