"""Proven keys claimed by two customers: recorded during ingest, resolved by an operator.

A conflict is never resolved silently. The operator picks one of three outcomes:
``merge`` (the claimant is merged into the key's owner, reversibly), ``move_key`` (the key
goes to the claimant: the owner got it by mistake) or ``keep_apart`` (two people really share
it, e.g. a family phone; the same clash is not raised again for this pair).
"""

from __future__ import annotations

import enum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import pair_visible
from okno.bus.outbox import record_event
from okno.customers.identities import IdentityKey
from okno.customers.identity_index import is_key
from okno.kit.audit import audit
from okno.kit.db import insert_ignoring_duplicates
from okno.kit.errors import Conflict, NotFound
from okno.kit.time import utcnow
from okno.models import ConflictStatus, Identity, IdentityConflict, TimelineEvent


class ConflictAction(enum.StrEnum):
    merge = "merge"
    move_key = "move_key"
    keep_apart = "keep_apart"


async def record_conflicts(session: AsyncSession, clashes: list[tuple[IdentityKey, int, int]]) -> None:
    """``(key, owner_id, claimant_id)`` rows; a pair already on record (open or decided) is left as is."""
    if not clashes:
        return
    now = utcnow()
    rows = [
        {"kind": k.kind, "value": k.value, "owner_id": owner, "claimant_id": claimant, "status": ConflictStatus.open.value, "created_at": now}
        for k, owner, claimant in dict.fromkeys(clashes)
    ]
    statement = insert_ignoring_duplicates(IdentityConflict.__table__, session.bind.dialect.name, ["kind", "value_index", "owner_id", "claimant_id"])
    await session.execute(statement, rows)


async def conflicts_page(
    session: AsyncSession, *, status: str | None, after_id: int | None, limit: int, scope: Scope | None = None
) -> list[IdentityConflict]:
    """``scope``: only conflicts between two customers that principal may see."""
    query = select(IdentityConflict).order_by(IdentityConflict.id).limit(limit)
    if scope is not None:
        query = query.where(pair_visible(scope, IdentityConflict.owner_id, IdentityConflict.claimant_id))
    if status:
        query = query.where(IdentityConflict.status == status)
    if after_id is not None:
        query = query.where(IdentityConflict.id > after_id)
    return list((await session.scalars(query)).all())


async def resolve_conflict(
    session: AsyncSession, *, conflict_id: int, action: ConflictAction, actor_id: int | None, note: str
) -> IdentityConflict:
    from okno.customers.merge import live_customer_id, merge_customers

    conflict = await session.get(IdentityConflict, conflict_id)
    if conflict is None:
        raise NotFound("%(what)s %(id)s not found", what="identity conflict", id=conflict_id)
    if conflict.status != ConflictStatus.open:
        raise Conflict("identity conflict %(conflict_id)s is already %(status)s", conflict_id=conflict_id, status=conflict.status)
    owner = await live_customer_id(session, conflict.owner_id)
    claimant = await live_customer_id(session, conflict.claimant_id)
    if action is ConflictAction.merge:
        if owner != claimant:
            merge = await merge_customers(
                session, survivor_id=owner, merged_id=claimant, actor_id=actor_id, reason=note or "identity conflict", origin="conflict"
            )
            conflict.merge_id = merge.id
        conflict.status = ConflictStatus.merged.value
    elif action is ConflictAction.move_key:
        await _move_key(session, conflict, owner=owner, claimant=claimant, actor_id=actor_id)
        conflict.status = ConflictStatus.moved.value
    else:
        conflict.status = ConflictStatus.kept_apart.value
    conflict.resolved_at, conflict.resolved_by_id, conflict.resolution_note = utcnow(), actor_id, note
    data = {"conflict_id": conflict.id, "identity": f"{conflict.kind}:{conflict.value}", "action": action.value, "note": note}
    await audit(session, actor_id=actor_id, action="identity_conflict.resolved", subject=("customer", owner), data=data)
    await record_event(session, "identity_conflict.resolved", data)
    await session.flush()
    return conflict


async def reopen_conflicts_of_merge(session: AsyncSession, merge_id: int) -> None:
    """An undone merge puts its conflicts back in the queue."""
    await session.execute(
        update(IdentityConflict)
        .where(IdentityConflict.merge_id == merge_id)
        .values(status=ConflictStatus.open.value, merge_id=None, resolved_at=None, resolved_by_id=None)
    )


async def _move_key(session: AsyncSession, conflict: IdentityConflict, *, owner: int, claimant: int, actor_id: int | None) -> None:
    identity = await session.scalar(select(Identity).where(is_key(conflict.kind, conflict.value)))
    if identity is None:
        raise Conflict("%(kind)s:%(value)s no longer exists", kind=conflict.kind, value=conflict.value)
    key = f"{conflict.kind}:{conflict.value}"
    identity.customer_id = claimant
    session.add(TimelineEvent(customer_id=owner, actor_id=actor_id, kind="identity.removed", data={"identity": key, "moved_to_customer_id": claimant}))
    session.add(TimelineEvent(customer_id=claimant, actor_id=actor_id, kind="identity.added", data={"identity": key, "moved_from_customer_id": owner}))
    from okno.customers.matching.profiles import refresh_profiles

    await session.flush()
    await refresh_profiles(session, [owner, claimant])
