"""Batch deduplication in memory: the same fields, blocking keys, comparisons and weights as the
real-time path, run over all blocked pairs of a coded table (:mod:`.table`) at once with numpy,
then union-find clusters."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from okno.customers.matching.blocking import block_entries, sorted_unique
from okno.customers.matching.blocking import candidate_pairs as pairs_sharing_a_key
from okno.customers.matching.compare_table import TableComparer
from okno.customers.matching.em import estimate_m, estimate_u
from okno.customers.matching.fields import MAX_BLOCK_SIZE
from okno.customers.matching.helpers import compare_in_chunks
from okno.customers.matching.model import MIN_BASE_FOR_TF, MatchModel, score_gamma
from okno.customers.matching.sessions import training_sessions
from okno.customers.matching.table import PersonTable, table_from_fields

PAIR_CHUNK = 500_000
TERM_COLUMNS = ("first_name", "last_name", "city")
EM_SAMPLE = 400_000
U_SAMPLE = 100_000
SESSION_SAMPLE = 100_000  # pairs per EM training session


@dataclass
class DedupeResult:
    pairs: np.ndarray  # (k, 2) record indices judged the same person, i < j
    probabilities: np.ndarray  # (k,)
    clusters: list[list[int]]  # groups of 2+ records, by union-find over ``pairs``
    model: MatchModel
    stats: dict = field(default_factory=dict)
    # with ``keep_candidates``: every candidate pair, its probability and comparison levels
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


def candidate_pairs(records: list[dict] | PersonTable, *, max_block: int = MAX_BLOCK_SIZE) -> tuple[np.ndarray, np.ndarray, int]:
    """Unique ``(i, j)`` with ``i < j`` sharing a blocking key, sorted; blocks above ``max_block`` are skipped."""
    table = records if isinstance(records, PersonTable) else table_from_fields(records)
    keys, owners = block_entries(table)
    return pairs_sharing_a_key(keys, owners, table.size, max_block=max_block)


def dedupe(
    records: list[dict] | PersonTable,
    *,
    model: MatchModel | None = None,
    estimate: bool = True,
    threshold: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    helpers: list[ProcessPoolExecutor] | None = None,
    keep_candidates: bool = False,
) -> DedupeResult:
    """``records``: :func:`~okno.customers.matching.fields.comparison_fields` dicts, or a
    :class:`~okno.customers.matching.table.PersonTable` of them (as read from a CSV file).
    ``helpers`` (:func:`~okno.customers.matching.helpers.helper_processes`) compare part of the pairs."""
    started = time.perf_counter()
    model = model or MatchModel()
    table = records if isinstance(records, PersonTable) else table_from_fields(records)
    size = table.size
    li, ri, skipped = candidate_pairs(table)
    shares = {column: table.term_shares(column) for column in TERM_COLUMNS} if size >= MIN_BASE_FOR_TF else {}
    stats = {"records": size, "candidate_pairs": int(len(li)), "oversized_blocks_skipped": skipped}
    if progress:
        progress("blocked", len(li), len(li))
    compare = TableComparer(table)
    gamma = compare_in_chunks(compare, table, li, ri, PAIR_CHUNK, helpers)
    if progress:
        progress("compared", len(li), len(li))
    if estimate and len(li) and size >= MIN_BASE_FOR_TF:  # fewer records can't estimate anything: the given model stands
        model.u = estimate_u(size, compare, sample=U_SAMPLE) or model.u
        sample = np.random.default_rng(11).choice(len(li), size=min(EM_SAMPLE, len(li)), replace=False)
        model = estimate_m(model, gamma[sample], sessions=training_sessions(table, compare, gamma[sample], sample=SESSION_SAMPLE),
                           first_name_shares=table.term_shares("first_name")[li[sample]])  # fmt: skip
        model.match_rate = model.prior * len(li) * 2 / size  # matches among the candidates, per record
    cut = model.review_threshold if threshold is None else threshold
    kept_pairs, kept_probability, every_probability = [], [], []
    for start in range(0, len(li), PAIR_CHUNK):
        a, b = li[start : start + PAIR_CHUNK], ri[start : start + PAIR_CHUNK]
        scores = score_gamma(model, gamma[start : start + PAIR_CHUNK], {c: s[a] for c, s in shares.items()}, base_size=size)
        keep = scores.probability >= cut
        kept_pairs.append(np.stack([a[keep], b[keep]], axis=1))
        kept_probability.append(scores.probability[keep])
        if keep_candidates:
            every_probability.append(scores.probability)
        if progress:
            progress("scored", min(start + PAIR_CHUNK, len(li)), len(li))
    candidates = (li, ri, np.concatenate(every_probability) if every_probability else np.empty(0), gamma) if keep_candidates else None
    del gamma, li, ri
    pairs = np.concatenate(kept_pairs) if kept_pairs else np.empty((0, 2), dtype=np.int64)
    probabilities = np.concatenate(kept_probability) if kept_probability else np.empty(0)
    clusters = union_find_clusters(size, pairs)
    stats.update({"matched_pairs": int(len(pairs)), "clusters": len(clusters), "seconds": round(time.perf_counter() - started, 2)})
    return DedupeResult(pairs=pairs, probabilities=probabilities, clusters=clusters, model=model, stats=stats, candidates=candidates)


def term_shares(records: list[dict]) -> dict[str, dict[str, float]]:
    total = max(len(records), 1)
    return {
        column: {value: count / total for value, count in Counter(r.get(column, "") for r in records).items() if value}
        for column in TERM_COLUMNS
    }


def union_find_clusters(size: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected groups of 2+ records, each sorted, in the order the pairs first touch them."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return []
    a, b = pairs[:, 0], pairs[:, 1]
    label = np.arange(size, dtype=np.int64)  # converges to the smallest record of each group
    while True:
        low = np.minimum(label[a], label[b])
        lowered = label.copy()
        np.minimum.at(lowered, a, low)
        np.minimum.at(lowered, b, low)
        lowered = lowered[lowered]  # pointer jumping: follow a label to its own label
        if np.array_equal(lowered, label):
            break
        label = lowered
    flat = pairs.ravel()
    first_seen = np.full(size, len(flat), dtype=np.int64)
    np.minimum.at(first_seen, label[flat], np.arange(len(flat)))  # where each group is first touched
    members = sorted_unique(flat)
    member_roots = label[members]
    order = np.argsort(member_roots, kind="stable")  # members stay sorted within a group
    members, member_roots = members[order].tolist(), member_roots[order]
    starts = np.flatnonzero(np.r_[True, member_roots[1:] != member_roots[:-1]])
    bounds = zip(starts.tolist(), [*starts[1:].tolist(), len(members)], strict=True)
    groups = [members[start:stop] for start, stop in bounds]
    by_first_touch = np.argsort(first_seen[member_roots[starts]], kind="stable")
    return [groups[g] for g in by_first_touch.tolist() if len(groups[g]) > 1]
