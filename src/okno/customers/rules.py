"""Deterministic mapping rules: which keys prove who a sender is, as editable data.

A rule is ``(kind, source) → proves``; ``source`` says how the adapter learnt the key
(``SenderIdentity.source``) and ``"*"`` covers every source without a row of its own. The
first key of a sender is the address the message came from (the Telegram user, the WhatsApp
number, the widget visitor, the integrator's id) and always proves; rules decide about the
keys a sender brings besides it. A key that proves attaches the touch to its owner inside the
ingest transaction; one that doesn't is kept on the profile as evidence for the matcher only
(``attributes["unverified_identities"]``), never as an identity.

Rows in ``identity_rules`` override the defaults declared with the identity kinds (the core's
and each channel adapter's, ``okno.customers.identity_kinds``). Ingest reads the rules from a
per-database cache refreshed every :data:`CACHE_SECONDS` (and at once after an edit here), so
the hot path pays no query for them.
"""

from __future__ import annotations

import time
import weakref

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identity_kinds import Rule, default_rules, known_kinds, on_change
from okno.kit.audit import audit
from okno.kit.errors import Invalid, NotFound
from okno.models import IdentityRule

CACHE_SECONDS = 10.0
ANY_SOURCE = "*"


class RuleBook:
    def __init__(self, rows: list[Rule]) -> None:
        self.rules = {(r.kind, r.source): r for r in default_rules()}
        self.rules.update({(r.kind, r.source): r for r in rows})

    def proves(self, kind: str, source: str) -> bool:
        rule = self.rules.get((kind, source or ANY_SOURCE)) or self.rules.get((kind, ANY_SOURCE))
        return True if rule is None else rule.proves

    def listing(self) -> list[Rule]:
        return sorted(self.rules.values(), key=lambda r: (r.kind, r.source))


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # sync engine → (loaded_at, RuleBook)
on_change(_cache.clear)  # a channel declared new default rules


async def rule_book(session: AsyncSession, *, fresh: bool = False) -> RuleBook:
    engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
    cached = _cache.get(engine)
    if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    rows = (await session.scalars(select(IdentityRule))).all()
    book = RuleBook([Rule(r.kind, r.source, r.proves, r.note) for r in rows])
    _cache[engine] = (time.monotonic(), book)
    return book


def _forget(session: AsyncSession) -> None:
    engine = session.bind.sync_engine if hasattr(session.bind, "sync_engine") else session.bind
    _cache.pop(engine, None)


async def set_rule(session: AsyncSession, *, kind: str, source: str, proves: bool, note: str, actor_id: int | None) -> Rule:
    kinds = known_kinds()
    if kind not in kinds:
        raise Invalid("unknown identity kind %(kind)r (one of: %(kinds)s)", kind=kind, kinds=', '.join(kinds))
    source = source.strip() or ANY_SOURCE
    row = await session.scalar(select(IdentityRule).where(IdentityRule.kind == kind, IdentityRule.source == source))
    if row is None:
        row = IdentityRule(kind=kind, source=source, proves=proves, note=note)
        session.add(row)
    else:
        row.proves, row.note = proves, note
    await audit(session, actor_id=actor_id, action="identity_rule.set", subject=("identity_rule", f"{kind}/{source}"), data={"proves": proves, "note": note})
    await session.flush()
    _forget(session)
    return Rule(kind, source, proves, note)


async def remove_rule(session: AsyncSession, *, kind: str, source: str, actor_id: int | None) -> None:
    """Drops an override; the default (if any) applies again."""
    result = await session.execute(delete(IdentityRule).where(IdentityRule.kind == kind, IdentityRule.source == source))
    if not result.rowcount:
        raise NotFound("no stored rule for %(kind)s/%(source)s", kind=kind, source=source)
    await audit(session, actor_id=actor_id, action="identity_rule.removed", subject=("identity_rule", f"{kind}/{source}"))
    _forget(session)


def split_by_rules(book: RuleBook, keys: tuple, sources: tuple[str, ...]) -> tuple[tuple, list]:
    """``(proven, evidence)``: the first key always proves; the rest as the rules say."""
    if len(keys) <= 1 or not sources:
        return keys, []
    proven, evidence = [keys[0]], []
    for key, source in zip(keys[1:], sources[1:], strict=True):
        (proven if book.proves(key.kind, source) else evidence).append(key)
    return tuple(proven), evidence
