"""A proven key claimed by two customers is surfaced as a conflict, never silently resolved."""

from __future__ import annotations

from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by, touch


async def _clash(client, ctx):  # noqa: ANN001, ANN202
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79162220001"})
    await touch(client, ctx, channel, {"email": "ivan@example.ru"})
    by_phone = (await customer_by(client, headers, "phone:+79162220001"))["id"]
    by_email = (await customer_by(client, headers, "email:ivan@example.ru"))["id"]
    for _ in range(2):  # the same clash twice is one conflict
        await touch(client, ctx, channel, {"phone": "+79162220001", "email": "ivan@example.ru"}, "both keys")
    return headers, by_phone, by_email


async def test_clash_is_one_open_conflict_and_nothing_is_merged(client, ctx) -> None:
    headers, by_phone, by_email = await _clash(client, ctx)
    conflicts = (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"]
    assert [(c["kind"], c["value"], c["owner_id"], c["claimant_id"], c["status"]) for c in conflicts] == [
        ("email", "ivan@example.ru", by_email, by_phone, "open")
    ]
    assert len((await client.get("/api/v1/customers", headers=headers)).json()["items"]) == 2
    timeline = (await client.get(f"/api/v1/customers/{by_phone}/timeline", headers=headers)).json()["items"]
    assert [e["data"]["claimed_by_customer_id"] for e in timeline if e["kind"] == "identity.conflict"] == [by_email, by_email]


async def test_resolving_by_merge_then_undo_reopens_the_conflict(client, ctx) -> None:
    headers, by_phone, by_email = await _clash(client, ctx)
    conflict = (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"][0]
    resolved = await client.post(f"/api/v1/identity-conflicts/{conflict['id']}/resolve", json={"action": "merge", "note": "same Ivan"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "merged" and resolved.json()["merge_id"] is not None
    assert (await client.get(f"/api/v1/customers/{by_phone}", headers=headers)).json()["merged_into_id"] == by_email
    assert (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"] == []
    again = await client.post(f"/api/v1/identity-conflicts/{conflict['id']}/resolve", json={"action": "keep_apart"}, headers=headers)
    assert again.status_code == 409

    undo = await client.post(f"/api/v1/merges/{resolved.json()['merge_id']}/undo", json={"reason": "not him"}, headers=headers)
    assert undo.status_code == 200
    reopened = (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"]
    assert [c["id"] for c in reopened] == [conflict["id"]] and reopened[0]["status"] == "open"


async def test_move_key_and_keep_apart(client, ctx) -> None:
    headers, by_phone, by_email = await _clash(client, ctx)
    conflict = (await client.get("/api/v1/identity-conflicts", headers=headers)).json()["items"][0]
    moved = await client.post(f"/api/v1/identity-conflicts/{conflict['id']}/resolve", json={"action": "move_key"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["status"] == "moved"
    phone_owner = await customer_by(client, headers, "phone:+79162220001")
    assert phone_owner["id"] == by_phone and ("email", "ivan@example.ru") in {(i["kind"], i["value"]) for i in phone_owner["identities"]}
    assert (await client.get(f"/api/v1/customers/{by_email}", headers=headers)).json()["identities"] == []

    decided = (await client.get("/api/v1/identity-conflicts", params={"status": "moved"}, headers=headers)).json()["items"]
    assert [c["id"] for c in decided] == [conflict["id"]]
    bad = await client.post(f"/api/v1/identity-conflicts/{conflict['id']}/resolve", json={"action": "shrug"}, headers=headers)
    assert bad.status_code == 422
