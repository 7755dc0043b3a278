"""Shared steps for identity tests: customers made through the real API-channel webhook."""

from __future__ import annotations

import itertools

import httpx
from sqlalchemy import select, update

from okno.context import AppContext
from okno.models import Customer
from tests.factories import post_inbound

_ids = itertools.count(1)


async def touch(client: httpx.AsyncClient, ctx: AppContext, channel: dict, sender: dict, text: str = "hello") -> None:
    response = await post_inbound(client, channel, {"message_id": f"m{next(_ids)}", "from": sender, "text": text})
    assert response.status_code == 200, response.text
    await ctx.settle()


async def customer_by(client: httpx.AsyncClient, headers: dict, identity: str) -> dict:
    items = (await client.get("/api/v1/customers", params={"identity": identity}, headers=headers)).json()["items"]
    assert len(items) == 1, items
    return items[0]


async def set_attributes(ctx: AppContext, customer_id: int, attributes: dict) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(update(Customer).where(Customer.id == customer_id).values(attributes=attributes))


async def snapshot(client: httpx.AsyncClient, headers: dict, customer_id: int) -> dict:
    """Everything a merge may move, as sets/values comparable before and after."""
    customer = (await client.get(f"/api/v1/customers/{customer_id}", headers=headers)).json()
    conversations = (await client.get("/api/v1/conversations", params={"customer_id": customer_id}, headers=headers)).json()["items"]
    messages = set()
    for conversation in conversations:
        rows = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)).json()["items"]
        messages |= {(m["id"], m["customer_id"]) for m in rows}
    timeline = (await client.get(f"/api/v1/customers/{customer_id}/timeline", headers=headers)).json()["items"]
    return {
        "name": customer["name"],
        "attributes": customer["attributes"],
        "identities": {(i["kind"], i["value"]) for i in customer["identities"]},
        "conversations": {c["id"] for c in conversations},
        "messages": messages,
        "timeline": {e["id"] for e in timeline if e["kind"] not in ("customer.merged", "customer.unmerged")},
    }


async def customer_row(ctx: AppContext, customer_id: int) -> Customer:
    async with ctx.db.reading() as session:
        return (await session.scalars(select(Customer).where(Customer.id == customer_id))).one()
