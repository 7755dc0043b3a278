"""Shared steps for identity tests: customers made through the real API-channel webhook."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text, update

from okno.context import AppContext
from okno.customers.matching.fields import RawPerson, comparison_fields
from okno.customers.matching.profiles import refresh_profiles
from okno.kit.time import utcnow
from okno.models import Customer, Identity
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


ATTRIBUTES = ("first_name", "last_name", "birth_date", "city", "address", "postcode")


async def store_people(ctx: AppContext, rows: list[dict]) -> None:
    """Customers ``1..len(rows)`` from generated-record rows, their keys and match profiles
    filed by the same code as live traffic."""
    now = utcnow()
    async with ctx.db.transaction() as session:
        customers = [{"id": i + 1, "name": f"{r['first_name']} {r['last_name']}", "attributes": {k: r[k] for k in ATTRIBUTES if r[k]},
                      "created_at": now, "updated_at": now} for i, r in enumerate(rows)]  # fmt: skip
        await session.execute(insert(Customer.__table__), customers)
        taken: set[tuple[str, str]] = set()
        identities = []
        for i, r in enumerate(rows):
            fields = comparison_fields(RawPerson(phones=[r["phone"]] if r["phone"] else [], emails=[r["email"]] if r["email"] else []))
            for kind, values in (("phone", fields.get("phones", [])), ("email", fields.get("emails", []))):
                for value in values:
                    if (kind, value) not in taken:  # households share a phone: its first holder owns it
                        taken.add((kind, value))
                        identities.append({"customer_id": i + 1, "kind": kind, "value": value, "created_at": now})
        if identities:
            await session.execute(insert(Identity.__table__), identities)
        await refresh_profiles(session, [i + 1 for i in range(len(rows))])
        if session.bind.dialect.name == "postgresql":  # ids were given: move the sequence past them
            await session.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": len(rows)})


def write_csv(rows: list[dict[str, str]], path: Path, headers: list[str]) -> Path:
    """``rows`` as a CSV file with a header row (the shape ``okno customers dedupe --input`` reads)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=headers)
        writer.writeheader()
        writer.writerows(rows)
    return path
