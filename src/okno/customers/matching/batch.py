"""Batch deduplication in memory: the same fields, blocking keys, comparisons and weights as the
real-time path, run over all blocked pairs at once with numpy, then union-find clusters."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.em import estimate_m, estimate_u
from okno.customers.matching.fields import MAX_BLOCK_SIZE, blocking_keys
from okno.customers.matching.model import MIN_BASE_FOR_TF, MatchModel, score_gamma

PAIR_CHUNK = 500_000
TERM_COLUMNS = ("first_name", "last_name", "city")
EM_SAMPLE = 400_000
U_SAMPLE = 100_000


@dataclass
class DedupeResult:
    pairs: np.ndarray  # (k, 2) record indices judged the same person, i < j
    probabilities: np.ndarray  # (k,)
    clusters: list[list[int]]  # groups of 2+ records, by union-find over ``pairs``
    model: MatchModel
    stats: dict = field(default_factory=dict)


def candidate_pairs(records: list[dict], *, keys: list[list[str]] | None = None, max_block: int = MAX_BLOCK_SIZE) -> tuple[np.ndarray, np.ndarray, int]:
    """Unique ``(i, j)`` with ``i < j`` sharing a blocking key; blocks above ``max_block`` are skipped."""
    hashes: list[int] = []
    owners: list[int] = []
    for index, fields in enumerate(records):
        record_keys = keys[index] if keys is not None else blocking_keys(fields)
        hashes.extend(hash(k) for k in record_keys)  # 64-bit: a collision only adds a candidate pair
        owners.extend([index] * len(record_keys))
    blocks, people = np.asarray(hashes, dtype=np.int64), np.asarray(owners, dtype=np.int64)
    del hashes, owners
    order = np.argsort(blocks, kind="stable")
    blocks, people = blocks[order], people[order]
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
    sizes = np.diff(np.r_[starts, len(blocks)])
    skipped = int((sizes > max_block).sum())
    lefts, rights = [], []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_block)]).tolist():  # all blocks of one size at once
        first = starts[sizes == size]
        a, b = np.triu_indices(size, k=1)
        lefts.append(people[(first[:, None] + a[None, :]).ravel()])
        rights.append(people[(first[:, None] + b[None, :]).ravel()])
    if not lefts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, skipped
    li, ri = np.concatenate(lefts), np.concatenate(rights)
    lo, hi = np.minimum(li, ri), np.maximum(li, ri)
    n = max(len(records), 1)
    codes = np.unique(lo[lo != hi] * n + hi[lo != hi])
    return codes // n, codes % n, skipped


def dedupe(
    records: list[dict],
    *,
    keys: list[list[str]] | None = None,
    model: MatchModel | None = None,
    estimate: bool = True,
    threshold: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    consume: bool = False,
) -> DedupeResult:
    """``records`` are :func:`~okno.customers.matching.fields.comparison_fields` dicts (and
    ``keys`` their blocking keys, if already computed). ``consume``: empty ``records`` once
    their columns are built, so that a million dicts don't stay in memory for the scoring."""
    started = time.perf_counter()
    model = model or MatchModel()
    size = len(records)
    frame = Frame(records)
    li, ri, skipped = candidate_pairs(records, keys=keys)
    shares = term_shares(records) if size >= MIN_BASE_FOR_TF else {}
    if consume:
        records.clear()  # the columns keep the strings; the per-record dicts can go
    del keys
    for column, share_of in shares.items():
        frame.set_term_shares(column, share_of)
    del shares
    stats = {"records": size, "candidate_pairs": int(len(li)), "oversized_blocks_skipped": skipped}
    if progress:
        progress("blocked", len(li), len(li))
    gamma = np.concatenate([compare_pairs(frame, frame, li[i : i + PAIR_CHUNK], ri[i : i + PAIR_CHUNK]) for i in range(0, len(li), PAIR_CHUNK)]) if len(li) else np.empty((0, 0), dtype=np.int8)
    if progress:
        progress("compared", len(li), len(li))
    if estimate and len(li) and size >= MIN_BASE_FOR_TF:  # fewer records can't estimate anything: the given model stands
        model.u = estimate_u(frame, sample=U_SAMPLE) or model.u
        sample = np.random.default_rng(11).choice(len(li), size=min(EM_SAMPLE, len(li)), replace=False)
        model = estimate_m(model, gamma[sample])
    cut = model.review_threshold if threshold is None else threshold
    kept_pairs, kept_probability = [], []
    for start in range(0, len(li), PAIR_CHUNK):
        a, b = li[start : start + PAIR_CHUNK], ri[start : start + PAIR_CHUNK]
        scores = score_gamma(model, gamma[start : start + PAIR_CHUNK], {c: shares[a] for c, shares in frame.shares.items()})
        keep = scores.probability >= cut
        kept_pairs.append(np.stack([a[keep], b[keep]], axis=1))
        kept_probability.append(scores.probability[keep])
        if progress:
            progress("scored", min(start + PAIR_CHUNK, len(li)), len(li))
    pairs = np.concatenate(kept_pairs) if kept_pairs else np.empty((0, 2), dtype=np.int64)
    probabilities = np.concatenate(kept_probability) if kept_probability else np.empty(0)
    clusters = union_find_clusters(size, pairs)
    stats.update({"matched_pairs": int(len(pairs)), "clusters": len(clusters), "seconds": round(time.perf_counter() - started, 2)})
    return DedupeResult(pairs=pairs, probabilities=probabilities, clusters=clusters, model=model, stats=stats)


def term_shares(records: list[dict]) -> dict[str, dict[str, float]]:
    total = max(len(records), 1)
    return {
        column: {value: count / total for value, count in Counter(r.get(column, "") for r in records).items() if value}
        for column in TERM_COLUMNS
    }


def union_find_clusters(size: int, pairs: np.ndarray) -> list[list[int]]:
    parent = list(range(size))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, set[int]] = {}
    for a, b in pairs.tolist():
        for x in (a, b):
            members.setdefault(root(x), set()).add(x)
    return [sorted(m) for m in members.values() if len(m) > 1]
