from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from okno.api.access import OperatorScope
from okno.api.deps import CurrentOperator, WriteSession
from okno.customers.attributes import change_customer_attributes
from okno.customers.queries import get_customer

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.patch("/{customer_id}/attributes")
async def change_attributes(customer_id: int, body: dict[str, Any], operator: CurrentOperator, scope: OperatorScope, session: WriteSession) -> dict:
    """Merge ``body`` into the customer's attributes (null removes a key)."""
    await get_customer(session, customer_id, scope=scope)
    customer = await change_customer_attributes(session, customer_id=customer_id, changes=body, actor_id=operator.id)
    return {"id": customer.id, "attributes": customer.attributes}
