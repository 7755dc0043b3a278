"""Score one record against the stored base in milliseconds: blocking-key lookups give a
handful of candidates, the batch comparisons score them, each score comes with its reasons."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.fields import MAX_BLOCK_SIZE, blocking_keys
from okno.customers.matching.model import MIN_BASE_FOR_TF, MatchModel, explain, score_gamma
from okno.customers.matching.profiles import TERM_FIELDS
from okno.models import MatchBlock, MatcherSettings, MatchProfile, MatchTerm

MAX_CANDIDATES = 200
TERM_CACHE_SIZE = 100_000
CACHE_SECONDS = 30.0  # base size and term counts: they move slowly, and only scale a weight
MODEL_SECONDS = 5.0  # other processes see a settings change within this
SETTINGS_ROW = 1


@dataclass
class Candidate:
    customer_id: int
    score: float  # match probability
    match_weight: float  # log2 odds: prior + Σ contributions
    contributions: list[dict]


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine → {"model": (t, m), "size": (t, n)}


def _engine(session: AsyncSession) -> object:
    return session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind


async def current_model(session: AsyncSession, *, fresh: bool = False) -> MatchModel:
    """The stored parameters, re-read at most every :data:`MODEL_SECONDS` (``fresh``: now)."""
    slot = _cache.setdefault(_engine(session), {})
    cached = slot.get("model")
    if not fresh and cached and time.monotonic() - cached[0] < MODEL_SECONDS:
        return cached[2]
    row = (await session.execute(select(MatcherSettings.params, MatcherSettings.updated_at).where(MatcherSettings.id == SETTINGS_ROW))).first()
    version = row.updated_at if row else None
    model = cached[2] if cached and cached[1] == version else MatchModel.from_params(row.params if row else {})
    slot["model"] = (time.monotonic(), version, model)
    return model


def remember_model(session: AsyncSession, model: MatchModel, version: object) -> None:
    """After a settings change in this process: use it at once (others within MODEL_SECONDS)."""
    _cache.setdefault(_engine(session), {})["model"] = (time.monotonic(), version, model)


async def _base_size(session: AsyncSession) -> int:
    slot = _cache.setdefault(_engine(session), {})
    cached = slot.get("size")
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    size = int(await session.scalar(select(func.count()).select_from(MatchProfile)) or 0)
    slot["size"] = (time.monotonic(), size)
    return size


async def candidates_for(session: AsyncSession, fields: dict, *, exclude: int | None = None) -> list[int]:
    """Customers sharing a blocking key with ``fields``; a key held by more than
    ``MAX_BLOCK_SIZE`` profiles is too common to narrow anything and is ignored."""
    keys = sorted(blocking_keys(fields))
    if not keys:
        return []
    per_key = [
        select(literal(key).label("key"), MatchBlock.customer_id).where(MatchBlock.key == key).limit(MAX_BLOCK_SIZE + 1)
        for key in keys
    ]
    subqueries = [select(q.subquery()) for q in per_key]  # LIMIT inside UNION ALL needs a subquery on SQLite
    rows = (await session.execute(union_all(*subqueries))).all()
    by_key: dict[str, list[int]] = {}
    for key, customer_id in rows:
        by_key.setdefault(key, []).append(customer_id)
    shared: dict[int, int] = {}
    for members in by_key.values():
        if len(members) > MAX_BLOCK_SIZE:
            continue
        for customer_id in members:
            if customer_id != exclude:
                shared[customer_id] = shared.get(customer_id, 0) + 1
    ranked = sorted(shared, key=lambda c: (-shared[c], c))
    return ranked[:MAX_CANDIDATES]


async def score_record(session: AsyncSession, fields: dict, *, exclude: int | None = None, model: MatchModel | None = None) -> list[Candidate]:
    """Every candidate with its probability and per-field contributions, best first."""
    model = model or await current_model(session)
    ids = await candidates_for(session, fields, exclude=exclude)
    if not ids:
        return []
    profiles = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(ids)))).all())
    ids = [i for i in ids if i in profiles]
    if not ids:
        return []
    query, stored = Frame([fields]), Frame([profiles[i] for i in ids])
    li, ri = np.zeros(len(ids), dtype=np.int64), np.arange(len(ids))
    gamma = compare_pairs(query, stored, li, ri)
    shares = await _query_shares(session, fields)
    scores = score_gamma(model, gamma, {c: np.full(len(ids), shares.get(c, np.nan)) for c in TERM_FIELDS})
    order = np.argsort(-scores.total, kind="stable")
    return [
        Candidate(ids[p], float(scores.probability[p]), round(float(scores.total[p]), 2), explain(scores.weights[p], gamma[p]))
        for p in order
    ]


async def _query_shares(session: AsyncSession, fields: dict) -> dict[str, float]:
    wanted = [(f, fields[f][:200]) for f in TERM_FIELDS if fields.get(f)]
    size = await _base_size(session) if wanted else 0
    if size < MIN_BASE_FOR_TF:
        return {}
    slot = _cache.setdefault(_engine(session), {})
    terms: dict = slot.setdefault("terms", {})
    now = time.monotonic()
    missing = [w for w in wanted if w not in terms or now - terms[w][0] > CACHE_SECONDS]
    if missing:
        if len(terms) > TERM_CACHE_SIZE:
            terms.clear()
        rows = dict(
            ((f, v), c)
            for f, v, c in await session.execute(
                union_all(*(select(MatchTerm.field, MatchTerm.value, MatchTerm.count).where(MatchTerm.field == f, MatchTerm.value == v) for f, v in missing))
            )
        )
        for key in missing:
            terms[key] = (now, rows.get(key, 0))
    return {f: terms[(f, v)][1] / size for f, v in wanted if terms[(f, v)][1] > 0}
