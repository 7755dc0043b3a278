"""Merge, undo, merge history and identity conflicts."""

from __future__ import annotations

from fastapi import APIRouter, Response

from okno.access.guards import access_conflict, access_merge
from okno.api.access import ManagerScope, OperatorScope
from okno.api.deps import CurrentOperator, ReadSession, WriteSession
from okno.api import identity_rules, matching
from okno.api.identity_schemas import ConflictOut, MergeIn, MergeOut, ResolveConflictIn, UndoMergeIn
from okno.api.pagination import Limit
from okno.api.schemas import CustomerOut, IdentityOut
from okno.customers.conflicts import conflicts_page, resolve_conflict
from okno.customers.matching.dismissals import not_the_same_person
from okno.customers.merge import merge_customers, merges_of, undo_merge
from okno.customers.queries import get_customer, identities_of

router = APIRouter(tags=["identity"])
router.include_router(identity_rules.router)  # one registration in app.py for all identity routes
router.include_router(matching.router)


@router.post("/api/v1/customers/{customer_id}/merge", response_model=CustomerOut)
async def merge_into(customer_id: int, body: MergeIn, operator: CurrentOperator, scope: ManagerScope, session: WriteSession) -> CustomerOut:
    """Merges ``other_customer_id`` into this customer (the survivor) and returns the survivor.
    Supervisors and admins; both customers must be visible to them."""
    await get_customer(session, customer_id, scope=scope)
    await get_customer(session, body.other_customer_id, scope=scope)
    await merge_customers(session, survivor_id=customer_id, merged_id=body.other_customer_id, actor_id=operator.id, reason=body.reason)
    customer = await get_customer(session, customer_id)
    identities = (await identities_of(session, [customer_id]))[customer_id]
    return CustomerOut.model_validate(customer).model_copy(update={"identities": [IdentityOut.model_validate(i) for i in identities]})


@router.post("/api/v1/customers/{customer_id}/not-same-person", status_code=204, response_class=Response)
async def not_same_person(customer_id: int, body: MergeIn, operator: CurrentOperator, scope: ManagerScope, session: WriteSession) -> Response:
    """"Not the same person": the matcher stops suggesting this pair (the reason is audited).
    Supervisors and admins; both customers must be visible to them."""
    await get_customer(session, customer_id, scope=scope)
    await get_customer(session, body.other_customer_id, scope=scope)
    await not_the_same_person(session, customer_id, body.other_customer_id, actor_id=operator.id, reason=body.reason)
    return Response(status_code=204)


@router.get("/api/v1/customers/{customer_id}/merges")
async def customer_merges(customer_id: int, scope: OperatorScope, session: ReadSession) -> dict:
    await get_customer(session, customer_id, scope=scope)
    return {"items": [MergeOut.model_validate(m) for m in await merges_of(session, customer_id)]}


@router.get("/api/v1/merges/{merge_id}", response_model=MergeOut)
async def one_merge(merge_id: int, scope: OperatorScope, session: ReadSession) -> MergeOut:
    return MergeOut.model_validate(await access_merge(session, scope, merge_id))


@router.post("/api/v1/merges/{merge_id}/undo", response_model=MergeOut)
async def undo(
    merge_id: int, operator: CurrentOperator, scope: ManagerScope, session: WriteSession, body: UndoMergeIn | None = None
) -> MergeOut:
    await access_merge(session, scope, merge_id)
    merge = await undo_merge(session, merge_id=merge_id, actor_id=operator.id, reason=body.reason if body else "")
    return MergeOut.model_validate(merge)


@router.get("/api/v1/identity-conflicts")
async def list_conflicts(
    scope: OperatorScope, session: ReadSession, status: str | None = "open", after_id: int | None = None, limit: Limit = 50
) -> dict:
    rows = await conflicts_page(session, status=status or None, after_id=after_id, limit=limit, scope=scope)
    return {"items": [ConflictOut.model_validate(c) for c in rows], "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.post("/api/v1/identity-conflicts/{conflict_id}/resolve", response_model=ConflictOut)
async def resolve(
    conflict_id: int, body: ResolveConflictIn, operator: CurrentOperator, scope: ManagerScope, session: WriteSession
) -> ConflictOut:
    await access_conflict(session, scope, conflict_id)
    conflict = await resolve_conflict(session, conflict_id=conflict_id, action=body.action, actor_id=operator.id, note=body.note)
    return ConflictOut.model_validate(conflict)
