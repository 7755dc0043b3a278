"""Customer attributes set by people or integrations (VIP tier, segment, language, order number…).

Routing reads them (VIP customers go to experienced operators; rules match on them); every
change is on the customer's timeline and in the outbox (``customer.attributes_changed``). A
change to what the matcher compares (birth date, city, address, postcode, id number…) re-files
the customer's profile in the same transaction, so fuzzy matching sees it at once.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.customers.events import CustomerAttributesChanged
from okno.customers.matching.profiles import PERSON_ATTRIBUTES, UNVERIFIED, refresh_profiles
from okno.kit.errors import Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import Customer, TimelineEvent

MAX_BYTES = 16_384


async def change_customer_attributes(
    session: AsyncSession, *, customer_id: int, changes: dict[str, Any], actor_id: int | None
) -> Customer:
    """Sets each key to its value; a null value removes the key."""
    customer = await session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    if customer.merged_into_id is not None:
        raise Invalid("customer %(customer_id)s was merged into %(merged_into_id)s: change that profile", customer_id=customer_id, merged_into_id=customer.merged_into_id)
    for key in changes:
        if not 1 <= len(key) <= 64:
            raise Invalid("attribute name %(key)r must be 1–64 characters", key=key)
    attributes = dict(customer.attributes or {})
    for key, value in changes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    if len(orjson.dumps(attributes)) > MAX_BYTES:
        raise Invalid("attributes would exceed %(num)s byte", plural="attributes would exceed %(num)s bytes", num=MAX_BYTES)
    changed = {k: attributes.get(k) for k in changes if (customer.attributes or {}).get(k) != attributes.get(k)}
    if not changed:
        return customer
    customer.attributes = attributes
    session.add(TimelineEvent(customer_id=customer.id, actor_id=actor_id, kind="customer.attributes_changed", data={"changed": changed}, occurred_at=utcnow()))
    await session.flush()
    if changed.keys() & {*PERSON_ATTRIBUTES, UNVERIFIED}:
        await refresh_profiles(session, [customer.id])
    await record_event(session, CustomerAttributesChanged(customer_id=customer.id, keys=sorted(changed)))
    return customer
