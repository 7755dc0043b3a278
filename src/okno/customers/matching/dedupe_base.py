"""Deduplicating the stored base: batch scoring of every blocked pair of profiles, then
suggestions for operators (default) or merges of whole clusters into their oldest profile."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from okno.customers.matching.batch import dedupe, union_find_clusters
from okno.customers.matching.realtime import Candidate, current_model
from okno.customers.matching.suggestions import queue_suggestions
from okno.kit.db import Database
from okno.kit.errors import Invalid
from okno.customers.matching.profiles import refresh_profiles
from okno.models import Customer, MatchProfile

WRITE_CHUNK = 1000


async def index_missing_profiles(db: Database) -> int:
    """Files live customers that have no profile yet (data from before the matcher, or a
    profile lost to a crash between commit and indexing); returns how many."""
    done = 0
    last = 0
    while True:
        async with db.reading() as session:
            ids = list((await session.scalars(
                select(Customer.id)
                .outerjoin(MatchProfile, MatchProfile.customer_id == Customer.id)
                .where(Customer.merged_into_id.is_(None), MatchProfile.customer_id.is_(None), Customer.id > last)
                .order_by(Customer.id)
                .limit(WRITE_CHUNK)
            )).all())  # fmt: skip
        if not ids:
            return done
        async with db.transaction() as session:
            await refresh_profiles(session, ids)
        done, last = done + len(ids), ids[-1]


async def dedupe_base(db: Database, *, threshold: float | None, merge: bool) -> dict:
    from okno.customers.merge import merge_customers

    indexed = await index_missing_profiles(db)
    async with db.reading() as session:
        model = await current_model(session)
        rows = (await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).order_by(MatchProfile.customer_id))).all()
    ids = [r[0] for r in rows]
    cut = threshold if threshold is not None else (model.auto_threshold if merge else model.review_threshold)
    if merge and cut is None:
        raise Invalid("--merge needs an auto threshold (PUT /api/v1/matcher) or --threshold")
    result = dedupe([r[1] for r in rows], model=model, threshold=cut)
    pairs = [(ids[a], ids[b], float(p)) for (a, b), p in zip(result.pairs.tolist(), result.probabilities.tolist(), strict=True)]
    stats = {**result.stats, "threshold": cut, "profiles": len(ids), "profiles_indexed_now": indexed}
    if not merge:
        for start in range(0, len(pairs), WRITE_CHUNK):
            async with db.transaction() as session:
                for older, newer, p in pairs[start : start + WRITE_CHUNK]:
                    await queue_suggestions(session, newer, [Candidate(older, p, 0.0, [])])
        stats["suggestions_written"] = len(pairs)
        return stats
    index = {cid: i for i, cid in enumerate(ids)}
    clusters = union_find_clusters(len(ids), np.asarray([(index[a], index[b]) for a, b, _ in pairs], dtype=np.int64).reshape(-1, 2))
    merged = 0
    for cluster in clusters:
        survivor, *others = sorted(ids[i] for i in cluster)
        async with db.transaction() as session:
            for other in others:
                await merge_customers(session, survivor_id=survivor, merged_id=other, actor_id=None, reason=f"okno customers dedupe (p ≥ {cut})", origin="auto")
                merged += 1
    stats["merged_profiles"] = merged
    return stats
