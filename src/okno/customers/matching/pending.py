"""Score records one after another against the stored base *and* the profiles the records
before them created or changed, without writing those first (CRM import in batches).

The stored side is read in a few statements for the whole batch; staged profiles are kept in
memory and take precedence over their stored version. Candidates, block sizes, term counts
and the base size are exactly what :func:`.realtime.score_record` would see had every staged
profile been filed already; the comparisons and scores are the same functions.
"""

from __future__ import annotations

import functools
from collections import Counter

from sqlalchemy import TextClause, and_, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.matching.fields import MAX_BLOCK_SIZE, block_cap, filed_keys
from okno.customers.matching.model import MatchModel
from okno.customers.matching.profiles import TERM_FIELDS, term_changes
from okno.customers.matching.realtime import Candidate, query_shares, rank_candidates, score_candidates
from okno.models import MatchProfile, MatchTerm

LOOKUP_CHUNK = 500


class PendingBase:
    """The stored base as it stood when the batch began, with the batch's staged profiles."""

    def __init__(self, *, batch_rows: int) -> None:
        self._slack = batch_rows  # each row touches one customer: at most this many stored members leave a block
        self._members: dict[str, list[int]] = {}  # key → its stored members (only keys that may stay usable)
        self._crowded: set[str] = set()  # keys too common whatever the batch does
        self._profiles: dict[int, dict] = {}  # stored profiles fetched so far
        self._terms: dict[tuple[str, str], int] = {}  # stored term counts fetched so far
        self._size: int | None = None  # stored profiles
        self._staged: dict[int, dict | None] = {}  # customer → its profile now (None: has none)
        self._holders: dict[str, set[int]] = {}  # key → staged customers filed under it
        self._term_delta: Counter = Counter()
        self._size_delta = 0

    async def prefetch(self, session: AsyncSession, records: list[dict]) -> None:
        """Reads what scoring ``records`` needs from the stored side: block members, the
        candidates' profiles, term counts and the base size."""
        await self._fetch_blocks(session, {k for fields in records for k in filed_keys(fields)})
        await self._fetch_terms(session, {_term(name, fields) for fields in records for name in TERM_FIELDS if fields.get(name)})
        usable = {c for key, members in self._members.items() if len(members) <= block_cap(key) for c in members}
        await self._fetch_profiles(session, usable)
        if self._size is None:
            self._size = int(await session.scalar(select(func.count()).select_from(MatchProfile)) or 0)

    def stage(self, customer_id: int, fields: dict | None, *, stored: dict | None) -> None:
        """``customer_id``'s profile is now ``fields``; ``stored`` is its profile on file."""
        staged = customer_id in self._staged
        before = self._staged[customer_id] if staged else stored
        for key in filed_keys(before) if staged and before else ():  # the stored version is set aside by being staged
            self._holders[key].discard(customer_id)
        for key in filed_keys(fields) if fields else ():
            self._holders.setdefault(key, set()).add(customer_id)
        self._term_delta.update(term_changes([before] if before else [], [fields] if fields else []))
        self._size_delta += (fields is not None) - (before is not None)
        self._staged[customer_id] = fields

    async def score(self, session: AsyncSession, fields: dict, model: MatchModel) -> list[Candidate]:
        """As :func:`.realtime.score_record` on the base with every staged profile filed."""
        ids = await self._candidates(session, fields)
        if not ids:
            return []
        await self._fetch_profiles(session, {c for c in ids if c not in self._staged})
        ids = [c for c in ids if c in self._staged or c in self._profiles]  # a block row without a profile: as the join drops it
        if not ids:
            return []
        wanted = {_term(name, fields) for name in TERM_FIELDS if fields.get(name)}
        await self._fetch_terms(session, wanted)
        counts = {name: self._terms[t] + self._term_delta[t] for name in TERM_FIELDS if fields.get(name) and (t := _term(name, fields))}
        profiles = [self._staged[c] if c in self._staged else self._profiles[c] for c in ids]
        size = (self._size or 0) + self._size_delta
        return score_candidates(model, fields, ids, profiles, query_shares(fields, counts, size), base_size=size or None)  # type: ignore[misc]

    async def _candidates(self, session: AsyncSession, fields: dict) -> list[int]:
        keys = sorted(filed_keys(fields))
        await self._fetch_blocks(session, set(keys))
        blocks: dict[str, list[int]] = {}
        for key in keys:
            if key in self._crowded:
                continue
            members = [c for c in self._members.get(key, ()) if c not in self._staged] + list(self._holders.get(key, ()))
            if len(members) <= block_cap(key):
                blocks[key] = members
        return rank_candidates(blocks)

    async def _fetch_blocks(self, session: AsyncSession, keys: set[str]) -> None:
        """Stored members of the keys not seen yet. A key with ``MAX_BLOCK_SIZE + slack + 1``
        members stays too common whatever the batch does: its members are not read further."""
        missing = sorted(k for k in keys if k not in self._members and k not in self._crowded)
        cap = MAX_BLOCK_SIZE + self._slack + 1
        for start in range(0, len(missing), LOOKUP_CHUNK):
            part = missing[start : start + LOOKUP_CHUNK]
            found: dict[str, list[int]] = {key: [] for key in part}
            for key, customer_id in await session.execute(_members_statement(session.bind.dialect.name), {"keys": part, "cap": cap}):
                found[key].append(customer_id)
            for key, members in found.items():
                if len(members) >= cap:
                    self._crowded.add(key)
                else:
                    self._members[key] = members

    async def _fetch_profiles(self, session: AsyncSession, ids: set[int]) -> None:
        missing = sorted(c for c in ids if c not in self._profiles)
        for start in range(0, len(missing), LOOKUP_CHUNK):
            part = missing[start : start + LOOKUP_CHUNK]
            rows = await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(part)))
            self._profiles.update(rows.all())

    async def _fetch_terms(self, session: AsyncSession, terms: set[tuple[str, str]]) -> None:
        missing = sorted(t for t in terms if t not in self._terms)
        for start in range(0, len(missing), LOOKUP_CHUNK):
            part = missing[start : start + LOOKUP_CHUNK]
            by_field: dict[str, list[str]] = {}
            for name, value in part:
                by_field.setdefault(name, []).append(value)
            condition = or_(*(and_(MatchTerm.field == name, MatchTerm.value.in_(values)) for name, values in by_field.items()))
            found = {(f, v): c for f, v, c in await session.execute(select(MatchTerm.field, MatchTerm.value, MatchTerm.count).where(condition))}
            self._terms.update((t, found.get(t, 0)) for t in part)


def _term(name: str, fields: dict) -> tuple[str, str]:
    return name, fields[name][:200]


@functools.cache
def _members_statement(dialect: str) -> TextClause:
    """Up to ``:cap`` members of each of ``:keys``, each key an index range of its own."""
    if dialect == "postgresql":  # a lateral LIMIT per key: index lookups even before the table was ever analysed
        return text(
            "SELECT k.key, b.customer_id FROM unnest(CAST(:keys AS varchar[])) AS k(key)"
            " CROSS JOIN LATERAL (SELECT customer_id FROM match_blocks WHERE match_blocks.key = k.key LIMIT :cap) AS b"
        )
    return text(
        "SELECT key, customer_id FROM (SELECT key, customer_id, row_number() OVER (PARTITION BY key) AS n"
        " FROM match_blocks WHERE key IN :keys) WHERE n <= :cap"
    ).bindparams(bindparam("keys", expanding=True))
