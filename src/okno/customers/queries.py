from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import customer_visible, timeline_visible
from okno.access.guards import access_customer
from okno.customers.identities import IdentityKey, InvalidIdentity, normalize_identity
from okno.customers.identity_index import key_condition
from okno.kit.errors import NotFound
from okno.models import Customer, Identity, TimelineEvent


async def customers_page(
    session: AsyncSession, *, identity: IdentityKey | None, after_id: int | None, limit: int, scope: Scope | None = None,
    search: str = "", newest_first: bool = False, with_erased: bool = True, region: str = "RU",
) -> list[Customer]:
    """``scope``: only the customers that principal may see (None: every one, for okno itself).
    ``search``: part of the name, or a whole phone / e-mail (``contact_search``)."""
    order = Customer.id.desc() if newest_first else Customer.id
    query = select(Customer).where(_listed(scope, identity, search, with_erased, region)).order_by(order).limit(limit)
    if after_id is not None:
        query = query.where(Customer.id < after_id if newest_first else Customer.id > after_id)
    return list((await session.scalars(query)).all())


async def count_customers(
    session: AsyncSession, *, scope: Scope | None, search: str = "", with_erased: bool = True, region: str = "RU"
) -> int:
    listed = _listed(scope, None, search, with_erased, region)
    return int(await session.scalar(select(func.count()).select_from(Customer).where(listed)) or 0)


def _listed(scope: Scope | None, identity: IdentityKey | None, search: str, with_erased: bool, region: str) -> ColumnElement[bool]:
    conditions = [Customer.merged_into_id.is_(None)]
    if not with_erased:
        conditions.append(Customer.erased_at.is_(None))
    if scope is not None:
        conditions.append(customer_visible(scope))
    if identity is not None:
        conditions.append(Customer.id.in_(select(Identity.customer_id).where(key_condition([identity]))))
    if search.strip():
        conditions.append(contact_search(search.strip(), region))
    return and_(*conditions)


def contact_search(text: str, default_region: str = "RU") -> ColumnElement[bool]:
    """Part of the name (case-insensitive; SQLite folds only ASCII, so the lower-case and
    capitalised spellings are asked too), or the exact phone / e-mail through its blind index
    (the value itself is sealed and can't be searched by part)."""
    name = or_(*(Customer.name.ilike(f"%{v}%", escape="\\") for v in dict.fromkeys((_like(text), _like(text.lower()), _like(text.capitalize())))))
    keys = []
    for kind in ("phone", "email"):
        try:
            keys.append(normalize_identity(kind, text, default_region=default_region))
        except InvalidIdentity:
            continue
    if not keys:
        return name
    return or_(name, Customer.id.in_(select(Identity.customer_id).where(key_condition(keys))))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
