"""Score one record against the stored base in milliseconds: blocking-key lookups give a
handful of candidates, the batch comparisons score them, each score comes with its reasons."""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from dataclasses import dataclass

import numpy as np
import structlog
from sqlalchemy import Row, Select, bindparam, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.fields import block_cap, filed_keys
from okno.customers.matching.model import MIN_BASE_FOR_TF, MatchModel, explain, score_gamma
from okno.customers.matching.profiles import TERM_FIELDS
from okno.models import MatchBlock, MatcherSettings, MatchProfile, MatchTerm

log = structlog.get_logger()

MAX_CANDIDATES = 200
CACHE_SECONDS = 30.0  # base size: it moves slowly, and only scales a weight
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
    model = cached[2] if cached and cached[1] == version else _stored_model(row.params if row else {})
    slot["model"] = (time.monotonic(), version, model)
    return model


def _stored_model(params: dict) -> MatchModel:
    model = MatchModel.from_params(params)
    if model.out_of_date:
        log.warning(
            "matcher_settings_out_of_date", comparisons=list(model.out_of_date),
            detail="the saved weights of these comparisons don't fit their levels: defaults apply; POST /api/v1/matcher/estimate re-estimates them",
        )  # fmt: skip
    return model


def remember_model(session: AsyncSession, model: MatchModel, version: object) -> None:
    """After a settings change in this process: use it at once (others within MODEL_SECONDS)."""
    _cache.setdefault(_engine(session), {})["model"] = (time.monotonic(), version, model)


async def base_size(session: AsyncSession) -> int:
    """How many profiles are stored (cached, see :func:`_base_size`)."""
    return await _base_size(session)


async def _base_size(session: AsyncSession) -> int:
    """How many profiles are stored. Counted on a process's first score; after that a stale
    figure is served while a background task counts again (stale-while-revalidate): at 1M
    profiles a count takes 60–180 ms, which would otherwise land on one request every
    :data:`CACHE_SECONDS`."""
    slot = _cache.setdefault(_engine(session), {})
    cached = slot.get("size")
    if cached is None:
        size = await _count_profiles(session)
        slot["size"] = (time.monotonic(), size)
        return size
    if time.monotonic() - cached[0] >= CACHE_SECONDS and not _refreshing(slot):
        slot["size_refresh"] = asyncio.create_task(_refresh_base_size(session.bind, slot))
    return cached[1]


async def _count_profiles(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(MatchProfile)) or 0)


def _refreshing(slot: dict) -> bool:
    task = slot.get("size_refresh")
    return task is not None and not task.done()


async def _refresh_base_size(bind: AsyncEngine, slot: dict) -> None:
    try:
        async with AsyncSession(bind) as session:
            slot["size"] = (time.monotonic(), await _count_profiles(session))
    except Exception:  # the stale figure stands; the next score tries again
        log.warning("match_base_size_refresh_failed", exc_info=True)


async def candidates_for(session: AsyncSession, fields: dict, *, exclude: int | None = None) -> list[int]:
    """Customers sharing a blocking key with ``fields``, most shared keys first; a key held by
    more than its cap (:func:`~okno.customers.matching.fields.block_cap`) is too common to narrow anything and is ignored."""
    return [row.customer_id for row in await _candidate_rows(session, fields, exclude)]


async def score_record(session: AsyncSession, fields: dict, *, exclude: int | None = None, model: MatchModel | None = None) -> list[Candidate]:
    """Every candidate with its probability and per-field contributions, best first.
    One statement fetches the candidates' profiles and the record's term counts together."""
    model = model or await current_model(session)
    rows = await _candidate_rows(session, fields, exclude)
    if not rows:
        return []
    counts = {name: getattr(rows[0], f"term_{name}") or 0 for name in TERM_FIELDS}
    size = await _base_size(session) if any(fields.get(name) for name in TERM_FIELDS) or model.match_rate is not None else 0
    return score_candidates(model, fields, [row.customer_id for row in rows], [row.fields for row in rows], query_shares(fields, counts, size), base_size=size)


def score_candidates(model: MatchModel, fields: dict, ids: list[int], profiles: list[dict], shares: dict[str, float], *,
                     base_size: int | None = None) -> list[Candidate]:  # fmt: skip
    """``fields`` compared with each candidate's profile, scored and explained, best first;
    ``base_size``: profiles stored (an estimated model's prior is its match rate over it)."""
    query, stored = Frame([fields]), Frame(profiles)
    li, ri = np.zeros(len(ids), dtype=np.int64), np.arange(len(ids))
    gamma = compare_pairs(query, stored, li, ri)
    scores = score_gamma(model, gamma, {c: np.full(len(ids), shares.get(c, np.nan)) for c in TERM_FIELDS}, base_size=base_size or None)
    order = np.argsort(-scores.total, kind="stable")
    return [
        Candidate(ids[p], float(scores.probability[p]), round(float(scores.total[p]), 2), explain(scores.weights[p], gamma[p]))
        for p in order
    ]


def query_shares(fields: dict, counts: dict[str, int], size: int) -> dict[str, float]:
    """Share of the base (``size`` profiles) holding each of the record's names and city, from
    ``counts`` per term field (term-frequency adjustment; none on a small base)."""
    if size < MIN_BASE_FOR_TF:
        return {}
    return {name: counts[name] / size for name in TERM_FIELDS if fields.get(name) and counts.get(name, 0) > 0}


async def _candidate_rows(session: AsyncSession, fields: dict, exclude: int | None) -> list[Row]:
    """``(customer_id, fields, <term count per TERM_FIELDS>)`` per candidate, ranked."""
    keys = sorted(filed_keys(fields))
    if not keys:
        return []
    params = {f"key_{i}": key for i, key in enumerate(keys)}
    params |= {f"term_{name}": fields[name][:200] if fields.get(name) else None for name in TERM_FIELDS}
    params["exclude"] = 0 if exclude is None else exclude  # ids start at 1
    return list(await session.execute(_candidates_statement(tuple(block_cap(k) for k in keys)), params))


@functools.cache
def _candidates_statement(caps: tuple[int, ...]) -> Select:
    """Per key at most its cap + 1 members (an index range each; ``caps[i]``: :func:`block_cap`
    of key ``i``); keys with more are dropped; members ranked by keys shared; joined to their
    profiles; the query's term counts ride along as uncorrelated scalar subqueries (evaluated once)."""
    per_key = [
        select(MatchBlock.key, MatchBlock.customer_id, literal_column(str(int(cap))).label("cap")).where(MatchBlock.key == bindparam(f"key_{i}")).limit(cap + 1).subquery()
        for i, cap in enumerate(caps)
    ]
    hits = union_all(*(select(q) for q in per_key)).subquery("hits")  # LIMIT inside UNION ALL needs a subquery on SQLite
    sized = select(hits.c.customer_id, hits.c.cap, func.count().over(partition_by=hits.c.key).label("block_size")).subquery("sized")
    shared = func.count().label("shared")
    ranked = (
        select(sized.c.customer_id, shared)
        .where(sized.c.block_size <= sized.c.cap, sized.c.customer_id != bindparam("exclude"))
        .group_by(sized.c.customer_id)
        .order_by(shared.desc(), sized.c.customer_id)
        .limit(MAX_CANDIDATES)
        .subquery("ranked")
    )
    terms = [
        select(MatchTerm.count).where(MatchTerm.field == name, MatchTerm.value == bindparam(f"term_{name}")).scalar_subquery().label(f"term_{name}")
        for name in TERM_FIELDS
    ]
    return (
        select(ranked.c.customer_id, MatchProfile.fields, *terms)
        .join_from(ranked, MatchProfile, MatchProfile.customer_id == ranked.c.customer_id)
        .order_by(ranked.c.shared.desc(), ranked.c.customer_id)
    )
