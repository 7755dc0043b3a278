"""Score one record against the stored base in milliseconds: blocking-key lookups give a
handful of candidates, ranked by the keys they share and how rare those keys are; the best
:data:`MAX_CANDIDATES` are fetched and scored by the batch comparisons; each score comes with
its reasons, worked out when a caller reads them."""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
import structlog
from sqlalchemy import Integer, Row, Select, String, Subquery, bindparam, func, literal_column, select, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okno.customers.matching.compare import Frame, compare_pairs
from okno.customers.matching.fields import MAX_BLOCK_SIZE, block_cap, filed_keys, key_weight
from okno.customers.matching.model import MIN_BASE_FOR_TF, MatchModel, explain, score_gamma
from okno.customers.matching.profiles import TERM_FIELDS
from okno.models import MatchBlock, MatcherSettings, MatchProfile, MatchTerm

log = structlog.get_logger()

# The profiles fetched and scored per record, best-ranked first (:func:`_candidates_statement`).
# Chosen on held-out data, not the benchmark's: on five generators of bench/identity_data.py the
# 50 best-ranked gave the same best-scored candidate as the 200 best for 99.95-100 % of records
# (docs/identity-matching.md, "Real time").
MAX_CANDIDATES = 50
CACHE_SECONDS = 30.0  # base size: it moves slowly, and only scales a weight
MODEL_SECONDS = 5.0  # other processes see a settings change within this
SETTINGS_ROW = 1


@dataclass(eq=False)
class Candidate:
    customer_id: int
    score: float  # match probability
    match_weight: float  # log2 odds: prior + Σ contributions
    explained: list[dict] | None = None  # given, or worked out from ``evidence`` on first read
    evidence: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # (weights, levels) of the pair

    @property
    def contributions(self) -> list[dict]:
        """Per-field contributions, strongest first (:func:`~.model.explain`): worked out only
        for the candidates a caller shows, not for every one scored."""
        if self.explained is None:
            self.explained = explain(*self.evidence) if self.evidence is not None else []
        return self.explained

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        return (self.customer_id, self.score, self.match_weight, self.contributions) == (other.customer_id, other.score, other.match_weight, other.contributions)

    __hash__ = None  # type: ignore[assignment]


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
    """Customers sharing a blocking key with ``fields``, best first (:func:`rank_candidates`),
    at most :data:`MAX_CANDIDATES`; a key held by more than its cap
    (:func:`~okno.customers.matching.fields.block_cap`) is too common to narrow anything and is ignored."""
    return [row.customer_id for row in await _candidate_rows(session, fields, exclude)]


async def score_record(session: AsyncSession, fields: dict, *, exclude: int | None = None, model: MatchModel | None = None) -> list[Candidate]:
    """The :data:`MAX_CANDIDATES` best-ranked candidates with their probabilities, best first
    (contributions on demand). One statement ranks the candidates and fetches their profiles
    and the record's term counts together."""
    model = model or await current_model(session)
    rows = await _candidate_rows(session, fields, exclude)
    if not rows:
        return []
    counts = {name: getattr(rows[0], f"term_{name}") or 0 for name in TERM_FIELDS}
    size = await _base_size(session) if any(fields.get(name) for name in TERM_FIELDS) or model.match_rate is not None else 0
    return score_candidates(model, fields, [row.customer_id for row in rows], [row.fields for row in rows], query_shares(fields, counts, size), base_size=size)


def score_candidates(model: MatchModel, fields: dict, ids: list[int], profiles: list[dict], shares: dict[str, float], *,
                     base_size: int | None = None) -> list[Candidate]:  # fmt: skip
    """``fields`` compared with each candidate's profile and scored, best first, each with its
    evidence for :attr:`Candidate.contributions`; ``base_size``: profiles stored (an estimated
    model's prior is its match rate over it)."""
    query, stored = Frame([fields]), Frame(profiles)
    li, ri = np.zeros(len(ids), dtype=np.int64), np.arange(len(ids))
    gamma = compare_pairs(query, stored, li, ri)
    scores = score_gamma(model, gamma, {c: np.full(len(ids), shares.get(c, np.nan)) for c in TERM_FIELDS}, base_size=base_size or None)
    order = np.argsort(-scores.total, kind="stable")
    return [
        Candidate(ids[p], float(scores.probability[p]), round(float(scores.total[p]), 2), evidence=(scores.weights[p], gamma[p]))
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
    # by cap, then key: the statement's shape depends only on how many keys of each cap the record
    # has (a few dozen shapes), so it is built and prepared once per shape, not once per record
    keys = sorted(filed_keys(fields), key=lambda key: (block_cap(key), key))
    if not keys:
        return []
    params: dict = {f"term_{name}": fields[name][:200] if fields.get(name) else None for name in TERM_FIELDS}
    params["exclude"] = 0 if exclude is None else exclude  # ids start at 1
    if session.bind.dialect.name == "postgresql":  # one text for every record: prepared once, then a generic plan
        params |= {"keys": keys, "caps": [block_cap(k) for k in keys]}
        return list(await session.execute(_candidates_by_array(), params))
    params |= {f"key_{i}": key for i, key in enumerate(keys)}
    return list(await session.execute(_candidates_statement(tuple(block_cap(k) for k in keys)), params))


def rank_candidates(blocks: dict[str, list[int]], *, exclude: int | None = None, limit: int = MAX_CANDIDATES) -> list[int]:
    """The ranking :func:`_candidates_statement` computes, over ``blocks`` (each usable key's
    members): by the sum of :func:`~okno.customers.matching.fields.key_weight` over the keys a
    profile shares (block sizes count every member), then keys shared, then id; the first
    ``limit``."""
    weight: dict[int, int] = {}
    shared: dict[int, int] = {}
    for members in blocks.values():
        for customer_id in members:
            if customer_id != exclude:
                weight[customer_id] = weight.get(customer_id, 0) + key_weight(len(members))
                shared[customer_id] = shared.get(customer_id, 0) + 1
    return sorted(weight, key=lambda c: (-weight[c], -shared[c], c))[:limit]


@functools.cache
def _candidates_by_array() -> Select:
    """:func:`_candidates_statement` with the keys and their caps as two array parameters
    (PostgreSQL): each key's members are a lateral index range of at most its cap + 1, so the
    statement's text is the same for every record: each connection prepares it once and, after
    five custom plans, runs it on a generic plan, where each new per-shape text was prepared and
    custom-planned five times (38 plannings per 1,000 records at 1M against 1). Same rows, same
    order."""
    arrays = bindparam("keys", type_=ARRAY(String)), bindparam("caps", type_=ARRAY(Integer))
    wanted = func.unnest(*arrays).table_valued("key", "cap").render_derived(name="wanted")
    members = select(MatchBlock.customer_id).where(MatchBlock.key == wanted.c.key).limit(wanted.c.cap + 1).lateral("members")
    hits = select(wanted.c.key, members.c.customer_id, wanted.c.cap).select_from(wanted).join(members, true()).subquery("hits")
    return _ranked_with_profiles(hits)


@functools.cache
def _candidates_statement(caps: tuple[int, ...]) -> Select:
    """Per key at most its cap + 1 members (an index range each; ``caps[i]``: :func:`block_cap`
    of key ``i``); keys with more are dropped; members ranked as :func:`rank_candidates` ranks
    them, the best :data:`MAX_CANDIDATES` joined to their profiles (only theirs are read and
    opened); the query's term counts ride along as uncorrelated scalar subqueries (evaluated once)."""
    per_key = [
        select(MatchBlock.key, MatchBlock.customer_id, literal_column(str(int(cap))).label("cap")).where(MatchBlock.key == bindparam(f"key_{i}")).limit(cap + 1).subquery()
        for i, cap in enumerate(caps)
    ]
    hits = union_all(*(select(q) for q in per_key)).subquery("hits")  # LIMIT inside UNION ALL needs a subquery on SQLite
    return _ranked_with_profiles(hits)


def _ranked_with_profiles(hits: Subquery) -> Select:
    """``hits`` (key, customer_id, cap: each key's first cap + 1 members) ranked as
    :func:`rank_candidates` ranks them, with the best candidates' profiles and the term counts."""
    sized = select(hits.c.customer_id, hits.c.cap, func.count().over(partition_by=hits.c.key).label("block_size")).subquery("sized")
    weight = func.sum(literal_column(str(MAX_BLOCK_SIZE), Integer) // sized.c.block_size).label("weight")  # integer division on both backends: key_weight
    shared = func.count().label("shared")
    ranked = (
        select(sized.c.customer_id, weight, shared)
        .where(sized.c.block_size <= sized.c.cap, sized.c.customer_id != bindparam("exclude"))
        .group_by(sized.c.customer_id)
        .order_by(weight.desc(), shared.desc(), sized.c.customer_id)
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
        .order_by(ranked.c.weight.desc(), ranked.c.shared.desc(), ranked.c.customer_id)
    )
