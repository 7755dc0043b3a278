"""Contacts an operator writes down by hand: a new customer, or more phones and e-mails on one.

A phone or e-mail an operator adds is an identity of that customer (proof ``manual``: a person
of the team vouches for it, as an admin's CRM import does), so the customer's next message from
it lands in his conversation. A key another customer already owns is refused (``identity_taken``)
rather than moved: moving it is a merge, decided on the merge screens. Every creation and change
is on the customer's timeline and in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.customers.attributes import change_customer_attributes
from okno.customers.events import CustomerCreated
from okno.customers.identities import IdentityKey, normalize_email, normalize_phone
from okno.customers.identity_index import key_condition
from okno.customers.matching.profiles import refresh_profiles
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import Customer, Identity, TimelineEvent

PROOF = "manual"


@dataclass(frozen=True)
class ContactChange:
    name: str | None = None
    phones: list[str] = field(default_factory=list)  # to add
    emails: list[str] = field(default_factory=list)  # to add
    attributes: dict[str, Any] = field(default_factory=dict)  # null removes a key


async def create_contact(session: AsyncSession, change: ContactChange, *, actor_id: int, default_region: str) -> Customer:
    keys = _keys(change, default_region)
    await _refuse_taken(session, keys, customer_id=None)
    customer = Customer(name=(change.name or "").strip(), attributes={})
    session.add(customer)
    await session.flush()
    await _add_keys(session, customer.id, keys, actor_id=actor_id)
    session.add(TimelineEvent(customer_id=customer.id, actor_id=actor_id, kind="customer.created_by_operator",
                              data={"name": customer.name, "keys": [str(k) for k in keys]}, occurred_at=utcnow()))
    await audit(session, actor_id=actor_id, action="customer.created", subject=("customer", customer.id),
                data={"keys": [k.kind for k in keys], "attributes": sorted(change.attributes)})
    if change.attributes:
        await change_customer_attributes(session, customer_id=customer.id, changes=change.attributes, actor_id=actor_id)
    await session.flush()
    await record_event(session, CustomerCreated(customer_id=customer.id))
    return customer


async def edit_contact(session: AsyncSession, customer_id: int, change: ContactChange, *, actor_id: int, default_region: str) -> Customer:
    """Renames, adds keys and changes attributes of a live customer (the caller checked access)."""
    customer = await session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    if customer.merged_into_id is not None or customer.erased_at is not None:
        raise Invalid("customer %(id)s was merged away or erased: change the live profile", id=customer_id)
    keys = _keys(change, default_region)
    owned = await _owners(session, keys)
    keys = [k for k in keys if owned.get(k) != customer_id]  # already his: nothing to add
    await _refuse_taken(session, keys, customer_id=customer_id)
    renamed = change.name is not None and change.name.strip() != customer.name
    if renamed:
        session.add(TimelineEvent(customer_id=customer_id, actor_id=actor_id, kind="customer.renamed",
                                  data={"from": customer.name, "to": change.name.strip()}, occurred_at=utcnow()))
        customer.name = change.name.strip()
    await _add_keys(session, customer_id, keys, actor_id=actor_id)
    if renamed or keys:
        await audit(session, actor_id=actor_id, action="customer.edited", subject=("customer", customer_id),
                    data={"renamed": renamed, "keys_added": [k.kind for k in keys]})
        await session.flush()
        await refresh_profiles(session, [customer_id])
    if change.attributes:
        await change_customer_attributes(session, customer_id=customer_id, changes=change.attributes, actor_id=actor_id)
    return customer


def _keys(change: ContactChange, region: str) -> list[IdentityKey]:
    if change.name is not None and len(change.name.strip()) > 300:
        raise Invalid("name must be at most 300 characters")
    keys = [IdentityKey("phone", normalize_phone(p, region)) for p in change.phones if p.strip()]
    keys += [IdentityKey("email", normalize_email(e)) for e in change.emails if e.strip()]
    return list(dict.fromkeys(keys))


async def _owners(session: AsyncSession, keys: list[IdentityKey]) -> dict[IdentityKey, int]:
    if not keys:
        return {}
    rows = await session.scalars(select(Identity).where(key_condition(keys)))
    return {IdentityKey(row.kind, row.value): row.customer_id for row in rows}


async def _refuse_taken(session: AsyncSession, keys: list[IdentityKey], *, customer_id: int | None) -> None:
    for key, owner in (await _owners(session, keys)).items():
        if owner != customer_id:
            raise Conflict("%(key)s already belongs to another customer: merge the two profiles instead",
                           code="identity_taken", key=key.value)


async def _add_keys(session: AsyncSession, customer_id: int, keys: list[IdentityKey], *, actor_id: int) -> None:
    for key in keys:
        session.add(Identity(customer_id=customer_id, kind=key.kind, value=key.value))
        session.add(TimelineEvent(customer_id=customer_id, actor_id=actor_id, kind="identity.added",
                                  data={"identity": str(key), "proof": PROOF}, occurred_at=utcnow()))
    if keys:
        await session.flush()
