from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import customer_visible, timeline_visible
from okno.access.guards import access_customer
from okno.customers.identities import IdentityKey
from okno.customers.identity_index import key_condition
from okno.kit.errors import NotFound
from okno.models import Customer, Identity, TimelineEvent


async def customers_page(
    session: AsyncSession, *, identity: IdentityKey | None, after_id: int | None, limit: int, scope: Scope | None = None
) -> list[Customer]:
    """``scope``: only the customers that principal may see (None: every one, for okno itself)."""
    query = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id).limit(limit)
    if scope is not None:
        query = query.where(customer_visible(scope))
    if identity is not None:
        query = query.join(Identity, Identity.customer_id == Customer.id).where(key_condition([identity]))
    if after_id is not None:
        query = query.where(Customer.id > after_id)
    return list((await session.scalars(query)).all())


async def identities_of(session: AsyncSession, customer_ids: list[int]) -> dict[int, list[Identity]]:
    found: dict[int, list[Identity]] = {cid: [] for cid in customer_ids}
    if customer_ids:
        rows = await session.scalars(select(Identity).where(Identity.customer_id.in_(customer_ids)).order_by(Identity.id))
        for identity in rows:
            found[identity.customer_id].append(identity)
    return found


async def get_customer(session: AsyncSession, customer_id: int, *, scope: Scope | None = None) -> Customer:
    if scope is not None:
        return await access_customer(session, scope, customer_id)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    return customer


async def timeline_page(
    session: AsyncSession, customer_id: int, *, after_id: int | None, limit: int, scope: Scope | None = None
) -> list[TimelineEvent]:
    """``scope``: the customer must be visible, and entries of conversations the principal can't
    see are left out."""
    await get_customer(session, customer_id, scope=scope)
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.customer_id == customer_id)
        .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        .limit(limit)
    )
    if scope is not None:
        query = query.where(timeline_visible(scope))
    if after_id is not None:
        anchor = await session.get(TimelineEvent, after_id)
        if anchor is not None:
            query = query.where(
                (TimelineEvent.occurred_at > anchor.occurred_at)
                | ((TimelineEvent.occurred_at == anchor.occurred_at) & (TimelineEvent.id > anchor.id))
            )
    return list((await session.scalars(query)).all())
