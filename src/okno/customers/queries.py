from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey
from okno.customers.identity_index import key_condition
from okno.kit.errors import NotFound
from okno.models import Customer, Identity, TimelineEvent


async def customers_page(
    session: AsyncSession, *, identity: IdentityKey | None, after_id: int | None, limit: int
) -> list[Customer]:
    query = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id).limit(limit)
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


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


async def timeline_page(session: AsyncSession, customer_id: int, *, after_id: int | None, limit: int) -> list[TimelineEvent]:
    await get_customer(session, customer_id)
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.customer_id == customer_id)
        .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        .limit(limit)
    )
    if after_id is not None:
        anchor = await session.get(TimelineEvent, after_id)
        if anchor is not None:
            query = query.where(
                (TimelineEvent.occurred_at > anchor.occurred_at)
                | ((TimelineEvent.occurred_at == anchor.occurred_at) & (TimelineEvent.id > anchor.id))
            )
    return list((await session.scalars(query)).all())
