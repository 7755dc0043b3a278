"""Deterministic mapping rules are data: editable through the API, applied inside ingest."""

from __future__ import annotations

from tests.factories import admin_headers, login, make_api_channel, make_operator
from tests.identity.helpers import customer_by, touch


async def test_defaults_are_listed_and_only_admins_edit(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    rules = (await client.get("/api/v1/identity-rules", headers=headers)).json()["items"]
    by_key = {(r["kind"], r["source"]): r for r in rules}
    assert by_key[("phone", "telegram.own_contact")]["proves"] is True and by_key[("phone", "whatsapp.wa_id")]["is_default"]
    operator = await make_operator(ctx)
    op_headers = await login(client, email=operator["email"])
    denied = await client.put("/api/v1/identity-rules", json={"kind": "email", "source": "api", "proves": False}, headers=op_headers)
    assert denied.status_code == 403
    unknown = await client.put("/api/v1/identity-rules", json={"kind": "fax", "source": "api", "proves": False}, headers=headers)
    assert unknown.status_code == 422


async def test_a_key_that_does_not_prove_is_kept_as_evidence_not_identity(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    changed = await client.put("/api/v1/identity-rules", json={"kind": "email", "source": "api", "proves": False, "note": "CRM e-mails are unchecked"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["is_default"] is False

    await touch(client, ctx, channel, {"phone": "+79163330001", "email": "shared@example.ru"})
    await touch(client, ctx, channel, {"phone": "+79163330002", "email": "shared@example.ru"})
    first = await customer_by(client, headers, "phone:+79163330001")
    second = await customer_by(client, headers, "phone:+79163330002")
    assert first["id"] != second["id"]
    assert {i["kind"] for i in first["identities"]} == {"phone"}
    assert first["attributes"]["unverified_identities"] == ["email:shared@example.ru"]
    assert (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"] == []

    assert (await client.delete("/api/v1/identity-rules/email/api", headers=headers)).status_code == 204
    assert (await client.delete("/api/v1/identity-rules/email/api", headers=headers)).status_code == 404
    await touch(client, ctx, channel, {"phone": "+79163330003", "email": "own@example.ru"})
    third = await customer_by(client, headers, "phone:+79163330003")
    assert {(i["kind"], i["value"]) for i in third["identities"]} == {("phone", "+79163330003"), ("email", "own@example.ru")}


async def test_first_key_always_proves(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for kind in ("phone", "email"):
        await client.put("/api/v1/identity-rules", json={"kind": kind, "source": "*", "proves": False}, headers=headers)
        await client.put("/api/v1/identity-rules", json={"kind": kind, "source": "api", "proves": False}, headers=headers)
    await touch(client, ctx, channel, {"phone": "+79163330010"}, "one")
    await touch(client, ctx, channel, {"phone": "+79163330010"}, "two")
    customer = await customer_by(client, headers, "phone:+79163330010")
    timeline = (await client.get(f"/api/v1/customers/{customer['id']}/timeline", headers=headers)).json()["items"]
    assert [e["kind"] for e in timeline].count("message.received") == 2
