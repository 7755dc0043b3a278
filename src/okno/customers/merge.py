"""Merge two customer profiles in one transaction, and undo a merge exactly.

A merge moves the merged-away customer's identities, conversations, messages and timeline to
the survivor and records the ids of every row it moved. The merged-away row stays as a
tombstone whose ``merged_into_id`` points at the survivor, so its id keeps resolving.

Attributes follow one conflict policy: a key only the merged-away profile has is copied; a key
both have with different values keeps the survivor's value in place and the other value, with
its source, under ``attributes["_alternatives"][key]``. The name is copied only when the
survivor has none, otherwise it becomes an alternative too.

Undo moves back exactly the recorded rows (those still on the survivor) plus whatever new
activity happened inside the moved-back conversations (messages and timeline entries follow
their conversation); new conversations and identities the survivor got after the merge stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import Conversation, Customer, CustomerMerge, Identity, MatchSuggestion, Message, TimelineEvent

ALTERNATIVES = "_alternatives"
CHUNK = 500
MOVED_TABLES: dict[str, Table] = {
    "identities": Identity.__table__,
    "conversations": Conversation.__table__,
    "messages": Message.__table__,
    "timeline": TimelineEvent.__table__,
}


async def merge_customers(
    session: AsyncSession,
    *,
    survivor_id: int,
    merged_id: int,
    actor_id: int | None,
    reason: str,
    origin: str = "operator",
    score: float | None = None,
) -> CustomerMerge:
    if survivor_id == merged_id:
        raise Invalid("a customer can't be merged into itself")
    survivor, merged = await _lock_live_pair(session, survivor_id, merged_id)
    moved: dict[str, Any] = {name: await _move_rows(session, table, merged_id, survivor_id) for name, table in MOVED_TABLES.items()}
    moved["attributes"] = _merge_attributes(survivor, merged)
    merged.merged_into_id = survivor.id
    survivor.updated_at = merged.updated_at = utcnow()
    merge = CustomerMerge(
        survivor_id=survivor_id, merged_id=merged_id, reason=reason, origin=origin, score=score, moved=moved, merged_by_id=actor_id
    )
    session.add(merge)
    await session.flush()
    counts = {name: len(moved[name]) for name in MOVED_TABLES}
    summary = {"merge_id": merge.id, "survivor_id": survivor_id, "merged_id": merged_id, "reason": reason, "origin": origin, "moved": counts}
    session.add(TimelineEvent(customer_id=survivor_id, actor_id=actor_id, kind="customer.merged", data=summary))
    await audit(session, actor_id=actor_id, action="customer.merged", subject=("customer", survivor_id), data=summary)
    await record_event(session, "customer.merged", summary)
    await _close_suggestions(session, survivor_id, merged_id, actor_id)
    await _after_change(session, [survivor_id, merged_id])
    await session.flush()
    return merge


async def undo_merge(session: AsyncSession, *, merge_id: int, actor_id: int | None, reason: str) -> CustomerMerge:
    merge = await session.get(CustomerMerge, merge_id, with_for_update=_locking(session))
    if merge is None:
        raise NotFound("%(what)s %(id)s not found", what="merge", id=merge_id)
    if merge.undone_at is not None:
        raise Conflict("merge %(merge_id)s was already undone", merge_id=merge_id)
    survivor, merged = await _lock_pair(session, merge.survivor_id, merge.merged_id)
    if survivor.merged_into_id is not None:
        later = await _merge_that_absorbed(session, survivor.id)
        raise Conflict("customer %(survivor_id)s was merged into %(merged_into_id)s since; undo merge %(later)s first", survivor_id=survivor.id, merged_into_id=survivor.merged_into_id, later=later)
    if merged.merged_into_id != survivor.id:
        raise Conflict("customer %(merged_id)s is no longer merged into %(survivor_id)s", merged_id=merged.id, survivor_id=survivor.id)
    returned = await _move_back(session, merge)
    _unmerge_attributes(survivor, merged, merge.moved.get("attributes", {}))
    merged.merged_into_id = None
    survivor.updated_at = merged.updated_at = utcnow()
    merge.undone_at, merge.undone_by_id, merge.undo_reason = utcnow(), actor_id, reason
    summary = {"merge_id": merge.id, "survivor_id": survivor.id, "restored_id": merged.id, "reason": reason, "moved_back": returned}
    for customer_id in (survivor.id, merged.id):
        session.add(TimelineEvent(customer_id=customer_id, actor_id=actor_id, kind="customer.unmerged", data=summary))
    await audit(session, actor_id=actor_id, action="customer.unmerged", subject=("customer", merged.id), data=summary)
    await record_event(session, "customer.unmerged", summary)
    await _reopen_conflicts_closed_by(session, merge.id)
    await _after_change(session, [survivor.id, merged.id])
    await session.flush()
    return merge


async def live_customer_id(session: AsyncSession, customer_id: int) -> int:
    """The id a (possibly merged-away) customer id resolves to now: follows ``merged_into_id``."""
    seen = {customer_id}
    current = customer_id
    while True:
        target = await session.scalar(select(Customer.merged_into_id).where(Customer.id == current))
        if target is None:
            return current
        if target in seen:  # a cycle can't be built by merge_customers; never loop on bad data
            return current
        seen.add(target)
        current = target


async def merges_of(session: AsyncSession, customer_id: int) -> list[CustomerMerge]:
    rows = await session.scalars(
        select(CustomerMerge)
        .where(or_(CustomerMerge.survivor_id == customer_id, CustomerMerge.merged_id == customer_id))
        .order_by(CustomerMerge.id.desc())
    )
    return list(rows.all())


async def get_merge(session: AsyncSession, merge_id: int) -> CustomerMerge:
    merge = await session.get(CustomerMerge, merge_id)
    if merge is None:
        raise NotFound("%(what)s %(id)s not found", what="merge", id=merge_id)
    return merge


# ---- helpers ---------------------------------------------------------------------------------


def _locking(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"  # SQLite's writer transaction is already exclusive


async def _lock_pair(session: AsyncSession, first_id: int, second_id: int) -> tuple[Customer, Customer]:
    query = select(Customer).where(Customer.id.in_([first_id, second_id])).order_by(Customer.id)
    if _locking(session):
        query = query.with_for_update()  # also waits for ingest transactions adding rows for them
    found = {c.id: c for c in (await session.scalars(query)).all()}
    for customer_id in (first_id, second_id):
        if customer_id not in found:
            raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    return found[first_id], found[second_id]


async def _lock_live_pair(session: AsyncSession, survivor_id: int, merged_id: int) -> tuple[Customer, Customer]:
    survivor, merged = await _lock_pair(session, survivor_id, merged_id)
    for customer in (survivor, merged):
        if customer.merged_into_id is not None:
            raise Conflict("customer %(customer_id)s was already merged into %(merged_into_id)s", customer_id=customer.id, merged_into_id=customer.merged_into_id)
    return survivor, merged


async def _move_rows(session: AsyncSession, table: Table, from_id: int, to_id: int) -> list[int]:
    rows = await session.execute(
        update(table).where(table.c.customer_id == from_id).values(customer_id=to_id).returning(table.c.id)
    )
    return sorted(row[0] for row in rows)


async def _move_back(session: AsyncSession, merge: CustomerMerge) -> dict[str, int]:
    survivor_id, merged_id, moved = merge.survivor_id, merge.merged_id, merge.moved
    conversations = moved.get("conversations", [])
    counts: dict[str, int] = {}
    for name, table in MOVED_TABLES.items():
        ids = moved.get(name, [])
        follow_conversation = name in ("messages", "timeline")
        total = 0
        for chunk in _chunks(ids) if ids else [[]]:
            total += await _return_rows(session, table, chunk, [], survivor_id, merged_id)
        if follow_conversation:
            for chunk in _chunks(conversations):
                total += await _return_rows(session, table, [], chunk, survivor_id, merged_id)
        counts[name] = total
    return counts


async def _return_rows(
    session: AsyncSession, table: Table, ids: list[int], conversation_ids: list[int], survivor_id: int, merged_id: int
) -> int:
    if not ids and not conversation_ids:
        return 0
    # The survivor's own "customer.merged" entry for this merge is neither a moved row nor in a
    # conversation, so it stays; entries of earlier merges that moved in go back with the rest.
    which = table.c.id.in_(ids) if ids else table.c.conversation_id.in_(conversation_ids)
    result = await session.execute(update(table).where(table.c.customer_id == survivor_id, which).values(customer_id=merged_id))
    return result.rowcount or 0


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _merge_attributes(survivor: Customer, merged: Customer) -> dict[str, Any]:
    """Applies the conflict policy to ``survivor``; returns what it changed, for the undo."""
    attributes = dict(survivor.attributes or {})
    alternatives = {k: list(v) for k, v in (attributes.get(ALTERNATIVES) or {}).items()}
    added: dict[str, Any] = {}
    kept_both: dict[str, Any] = {}
    for key, value in (merged.attributes or {}).items():
        if key == ALTERNATIVES:
            continue
        if key not in attributes:
            attributes[key] = added[key] = value
        elif attributes[key] != value:
            alternatives.setdefault(key, []).append({"value": value, "source_customer_id": merged.id})
            kept_both[key] = value
    for key, entries in ((merged.attributes or {}).get(ALTERNATIVES) or {}).items():
        alternatives.setdefault(key, []).extend(entries)
        kept_both.setdefault("_inherited", {})[key] = entries
    name_taken = False
    if merged.name and not survivor.name:
        survivor.name, name_taken = merged.name, True
    elif merged.name and merged.name != survivor.name:
        alternatives.setdefault("name", []).append({"value": merged.name, "source_customer_id": merged.id})
        kept_both["name"] = merged.name
    if alternatives:
        attributes[ALTERNATIVES] = alternatives
    survivor.attributes = attributes  # a new dict: JSON columns don't track in-place changes
    return {"added": added, "alternatives": kept_both, "name_taken": merged.name if name_taken else None}


def _unmerge_attributes(survivor: Customer, merged: Customer, change: dict[str, Any]) -> None:
    """Takes back what the merge gave ``survivor`` unless it was changed since (then it stays)."""
    attributes = dict(survivor.attributes or {})
    for key, value in (change.get("added") or {}).items():
        if attributes.get(key) == value:
            del attributes[key]
    alternatives = {k: list(v) for k, v in (attributes.get(ALTERNATIVES) or {}).items()}
    for key in (change.get("alternatives") or {}):
        if key == "_inherited":
            continue
        alternatives[key] = [e for e in alternatives.get(key, []) if e.get("source_customer_id") != merged.id]
    for key, entries in ((change.get("alternatives") or {}).get("_inherited") or {}).items():
        remaining = list(alternatives.get(key, []))
        for entry in entries:
            if entry in remaining:
                remaining.remove(entry)
        alternatives[key] = remaining
    alternatives = {k: v for k, v in alternatives.items() if v}
    if alternatives:
        attributes[ALTERNATIVES] = alternatives
    else:
        attributes.pop(ALTERNATIVES, None)
    survivor.attributes = attributes
    if change.get("name_taken") and survivor.name == change["name_taken"]:
        survivor.name = ""


async def _merge_that_absorbed(session: AsyncSession, customer_id: int) -> int | None:
    return await session.scalar(
        select(CustomerMerge.id)
        .where(CustomerMerge.merged_id == customer_id, CustomerMerge.undone_at.is_(None))
        .order_by(CustomerMerge.id.desc())
        .limit(1)
    )


async def _close_suggestions(session: AsyncSession, survivor_id: int, merged_id: int, actor_id: int | None) -> None:
    """The pair's open suggestion is settled by the merge; others naming the merged-away id
    are superseded (the survivor is scored afresh)."""
    pair = or_(
        (MatchSuggestion.customer_id == survivor_id) & (MatchSuggestion.other_customer_id == merged_id),
        (MatchSuggestion.customer_id == merged_id) & (MatchSuggestion.other_customer_id == survivor_id),
    )
    involved = or_(MatchSuggestion.customer_id == merged_id, MatchSuggestion.other_customer_id == merged_id)
    now = utcnow()
    await session.execute(
        update(MatchSuggestion).where(MatchSuggestion.status == "open", pair).values(status="merged", decided_at=now, decided_by_id=actor_id)
    )
    await session.execute(
        update(MatchSuggestion).where(MatchSuggestion.status == "open", involved).values(status="superseded", decided_at=now, decided_by_id=actor_id)
    )


async def _reopen_conflicts_closed_by(session: AsyncSession, merge_id: int) -> None:
    from okno.customers.conflicts import reopen_conflicts_of_merge

    await reopen_conflicts_of_merge(session, merge_id)


async def _after_change(session: AsyncSession, customer_ids: list[int]) -> None:
    """Keeps the matcher's profiles in step with the identities and attributes that moved."""
    from okno.customers.matching.profiles import refresh_profiles

    await session.flush()
    await refresh_profiles(session, customer_ids)
