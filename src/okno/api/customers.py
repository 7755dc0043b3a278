from __future__ import annotations

from fastapi import APIRouter, Query

from okno.api.access import OperatorScope
from okno.api.deps import Ctx, ReadSession
from okno.api.pagination import Limit
from okno.api.read_audit import AuditedReads
from okno.api.schemas import CustomerOut, IdentityOut, TimelineEventOut
from okno.customers.identities import parse_identity
from okno.customers.merge import live_customer_id
from okno.customers.queries import customers_page, get_customer, identities_of, timeline_page

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("")
async def list_customers(
    scope: OperatorScope,
    reads: AuditedReads,
    session: ReadSession,
    ctx: Ctx,
    identity: str | None = Query(default=None, description="kind:value, normalised before lookup", max_length=400),
    after_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    key = parse_identity(identity, default_region=ctx.settings.default_region) if identity else None
    customers = await customers_page(session, identity=key, after_id=after_id, limit=limit, scope=scope)
    identities = await identities_of(session, [c.id for c in customers])
    reads.saw("read.customer_list", customer_ids=[c.id for c in customers])
    items = [
        CustomerOut.model_validate(c).model_copy(update={"identities": [IdentityOut.model_validate(i) for i in identities[c.id]]})
        for c in customers
    ]
    return {"items": items, "next_cursor": customers[-1].id if len(customers) == limit else None}


@router.get("/{customer_id}", response_model=CustomerOut)
async def one_customer(customer_id: int, scope: OperatorScope, session: ReadSession, reads: AuditedReads) -> CustomerOut:
    """A merged-away id answers 200 with its tombstone and ``merged_into_id`` = the live survivor."""
    customer = await get_customer(session, customer_id, scope=scope)
    reads.saw("read.customer", customer_ids=customer_id)
    identities = (await identities_of(session, [customer_id]))[customer_id]
    merged_into = await live_customer_id(session, customer_id) if customer.merged_into_id else None
    return CustomerOut.model_validate(customer).model_copy(
        update={"identities": [IdentityOut.model_validate(i) for i in identities], "merged_into_id": merged_into}
    )


@router.get("/{customer_id}/timeline")
async def customer_timeline(
    customer_id: int, scope: OperatorScope, session: ReadSession, reads: AuditedReads, after_id: int | None = None, limit: Limit = 200
) -> dict:
    events = await timeline_page(session, customer_id, after_id=after_id, limit=limit, scope=scope)
    reads.saw("read.customer_timeline", customer_ids=customer_id)
    return {
        "items": [TimelineEventOut.model_validate(e) for e in events],
        "next_cursor": events[-1].id if len(events) == limit else None,
    }
