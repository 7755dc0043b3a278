from __future__ import annotations

from fastapi import APIRouter, Query

from okno.api.access import OperatorScope
from okno.api.contact_schemas import ContactIn, ContactPatch
from okno.api.deps import Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.pagination import Limit
from okno.api.read_audit import AuditedReads
from okno.api.schemas import CustomerOut, IdentityOut, TimelineEventOut
from okno.customers.contacts import ContactChange, create_contact, edit_contact
from okno.customers.identities import parse_identity
from okno.customers.merge import live_customer_id
from okno.customers.queries import customers_page, get_customer, identities_of, timeline_page
from okno.kit.errors import Forbidden
from okno.models import Customer

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("")
async def list_customers(
    scope: OperatorScope,
    reads: AuditedReads,
    session: ReadSession,
    ctx: Ctx,
    identity: str | None = Query(default=None, description="kind:value, normalised before lookup", max_length=400),
    q: str = Query(default="", description="part of the name, or a whole phone number or e-mail", max_length=200),
    after_id: int | None = None,
    limit: Limit = 50,
) -> dict:
    key = parse_identity(identity, default_region=ctx.settings.default_region) if identity else None
    customers = await customers_page(
        session, identity=key, after_id=after_id, limit=limit, scope=scope, search=q, region=ctx.settings.default_region
    )
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


@router.post("", response_model=CustomerOut, status_code=201, summary="Create a contact: a customer with phones, e-mails and attributes")
async def create_customer(body: ContactIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx) -> CustomerOut:
    """The new customer has no conversation yet, so only a principal who sees such customers (the
    unteamed ones, or the whole directory) may create one: nobody writes down a contact he then
    cannot open. A phone or e-mail another customer owns is refused (409 ``identity_taken``)."""
    if not (scope.sees_unteamed or scope.global_customer_directory):
        raise Forbidden("creating a contact needs access to customers without conversations", code="contacts_not_allowed")
    change = ContactChange(name=body.name, phones=body.phones, emails=body.emails, attributes=body.attributes)
    customer = await create_contact(session, change, actor_id=operator.id, default_region=ctx.settings.default_region)
    return await _customer_out(session, customer)


@router.patch("/{customer_id}", response_model=CustomerOut, summary="Edit a contact: rename, add phones and e-mails, set attributes")
async def edit_customer(
    customer_id: int, body: ContactPatch, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx
) -> CustomerOut:
    await get_customer(session, customer_id, scope=scope)
    change = ContactChange(name=body.name, phones=body.phones, emails=body.emails, attributes=body.attributes)
    customer = await edit_contact(session, customer_id, change, actor_id=operator.id, default_region=ctx.settings.default_region)
    return await _customer_out(session, customer)


async def _customer_out(session: WriteSession, customer: Customer) -> CustomerOut:
    await session.flush()
    await session.refresh(customer)
    identities = (await identities_of(session, [customer.id]))[customer.id]
    return CustomerOut.model_validate(customer).model_copy(update={"identities": [IdentityOut.model_validate(i) for i in identities]})
