"""Merge and undo through the API: what moves, what stays, and exact restoration."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import AuditEntry
from tests.factories import admin_headers, make_api_channel
from tests.identity.helpers import customer_by, set_attributes, snapshot, touch


async def _two_customers(client, ctx):  # noqa: ANN001, ANN202
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await touch(client, ctx, channel, {"phone": "+79161110001", "name": "Анна Петрова"}, "первое")
    await touch(client, ctx, channel, {"email": "anna.p@example.ru"}, "second")
    await touch(client, ctx, channel, {"email": "anna.p@example.ru"}, "third")
    anna = await customer_by(client, headers, "phone:+79161110001")
    other = await customer_by(client, headers, "email:anna.p@example.ru")
    await set_attributes(ctx, anna["id"], {"city": "Москва", "tier": "gold"})
    await set_attributes(ctx, other["id"], {"city": "Moscow", "birth_date": "1990-04-01"})
    return headers, channel, anna["id"], other["id"]


async def test_merge_moves_everything_and_keeps_both_attribute_values(client, ctx) -> None:
    headers, _, anna, other = await _two_customers(client, ctx)
    before_anna, before_other = await snapshot(client, headers, anna), await snapshot(client, headers, other)

    response = await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": other, "reason": "same person, checked by phone"}, headers=headers)
    assert response.status_code == 200, response.text
    survivor = response.json()
    assert survivor["id"] == anna
    assert {(i["kind"], i["value"]) for i in survivor["identities"]} == before_anna["identities"] | before_other["identities"]
    assert survivor["name"] == "Анна Петрова"
    assert survivor["attributes"]["city"] == "Москва" and survivor["attributes"]["birth_date"] == "1990-04-01"
    assert survivor["attributes"]["_alternatives"] == {"city": [{"value": "Moscow", "source_customer_id": other}]}

    after = await snapshot(client, headers, anna)
    assert after["conversations"] == before_anna["conversations"] | before_other["conversations"]
    assert {m for m, _ in after["messages"]} == {m for m, _ in before_anna["messages"] | before_other["messages"]}
    assert all(owner == anna for _, owner in after["messages"])
    assert after["timeline"] >= before_anna["timeline"] | before_other["timeline"]

    tombstone = (await client.get(f"/api/v1/customers/{other}", headers=headers)).json()
    assert tombstone["merged_into_id"] == anna and tombstone["identities"] == []
    listed = (await client.get("/api/v1/customers", headers=headers)).json()["items"]
    assert [c["id"] for c in listed] == [anna]

    merges = (await client.get(f"/api/v1/customers/{other}/merges", headers=headers)).json()["items"]
    assert len(merges) == 1 and merges[0]["survivor_id"] == anna and merges[0]["reason"] == "same person, checked by phone"
    assert merges[0]["merged_by_id"] is not None and merges[0]["undone_at"] is None
    assert len(merges[0]["moved"]["messages"]) == 2 and len(merges[0]["moved"]["identities"]) == 1
    async with ctx.db.reading() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merged"))).all()
    assert [e.data["reason"] for e in entries] == ["same person, checked by phone"] and entries[0].actor_id == merges[0]["merged_by_id"]


async def test_undo_restores_both_profiles_exactly_after_new_activity(client, ctx) -> None:
    headers, channel, anna, other = await _two_customers(client, ctx)
    before_anna, before_other = await snapshot(client, headers, anna), await snapshot(client, headers, other)
    merge = await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": other, "reason": "looked alike"}, headers=headers)
    assert merge.status_code == 200
    merge_id = (await client.get(f"/api/v1/customers/{anna}/merges", headers=headers)).json()["items"][0]["id"]

    # new activity on the merged profile: a new key, and a message by the merged-away person's e-mail
    await touch(client, ctx, channel, {"phone": "+79161110001", "email": "anna.work@example.ru"}, "after the merge")
    await touch(client, ctx, channel, {"email": "anna.p@example.ru"}, "me again")

    undone = await client.post(f"/api/v1/merges/{merge_id}/undo", json={"reason": "wrong merge: two different Annas"}, headers=headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None and undone.json()["undo_reason"] == "wrong merge: two different Annas"

    after_anna, after_other = await snapshot(client, headers, anna), await snapshot(client, headers, other)
    assert after_other["identities"] == before_other["identities"]
    assert after_anna["identities"] == before_anna["identities"] | {("email", "anna.work@example.ru")}  # new key stays
    assert after_anna["attributes"] == before_anna["attributes"] and after_other["attributes"] == before_other["attributes"]
    assert after_anna["name"] == before_anna["name"] and after_other["name"] == before_other["name"]
    assert after_other["conversations"] >= before_other["conversations"]
    assert before_anna["conversations"] <= after_anna["conversations"]
    assert not (after_anna["conversations"] & before_other["conversations"])
    assert before_other["messages"] <= after_other["messages"] and before_anna["messages"] <= after_anna["messages"]
    for snap, owner in ((after_anna, anna), (after_other, other)):
        assert all(o == owner for _, o in snap["messages"])  # messages follow their conversation
    assert before_other["timeline"] <= after_other["timeline"] and before_anna["timeline"] <= after_anna["timeline"]
    assert (await client.get(f"/api/v1/customers/{other}", headers=headers)).json()["merged_into_id"] is None
    again = await client.post(f"/api/v1/merges/{merge_id}/undo", json={}, headers=headers)
    assert again.status_code == 409


async def test_refusals_and_chained_merges(client, ctx) -> None:
    headers, channel, anna, other = await _two_customers(client, ctx)
    await touch(client, ctx, channel, {"phone": "+79161110009"}, "third person")
    third = (await customer_by(client, headers, "phone:+79161110009"))["id"]

    assert (await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": anna, "reason": "x"}, headers=headers)).status_code == 422
    assert (await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": 999999, "reason": "x"}, headers=headers)).status_code == 404
    assert (await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": other, "reason": ""}, headers=headers)).status_code == 422
    assert (await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": other, "reason": "ok"}, headers=headers)).status_code == 200
    assert (await client.post(f"/api/v1/customers/{third}/merge", json={"other_customer_id": other, "reason": "again"}, headers=headers)).status_code == 409
    assert (await client.post(f"/api/v1/customers/{third}/merge", json={"other_customer_id": anna, "reason": "chain"}, headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/customers/{other}", headers=headers)).json()["merged_into_id"] == third

    first_merge = (await client.get(f"/api/v1/customers/{other}/merges", headers=headers)).json()["items"][0]["id"]
    blocked = await client.post(f"/api/v1/merges/{first_merge}/undo", json={}, headers=headers)
    assert blocked.status_code == 409 and "undo merge" in blocked.json()["detail"]
    second_merge = (await client.get(f"/api/v1/customers/{third}/merges", headers=headers)).json()["items"][0]["id"]
    assert (await client.post(f"/api/v1/merges/{second_merge}/undo", json={}, headers=headers)).status_code == 200
    anna_timeline = (await client.get(f"/api/v1/customers/{anna}/timeline", headers=headers)).json()["items"]
    assert [e["data"]["merge_id"] for e in anna_timeline if e["kind"] == "customer.merged"] == [first_merge]  # her own record came back
    assert (await client.post(f"/api/v1/merges/{first_merge}/undo", json={}, headers=headers)).status_code == 200
    assert {(i["kind"], i["value"]) for i in (await client.get(f"/api/v1/customers/{other}", headers=headers)).json()["identities"]} == {
        ("email", "anna.p@example.ru")
    }
    assert (await client.post("/api/v1/merges/424242/undo", json={}, headers=headers)).status_code == 404
    assert (await client.post(f"/api/v1/customers/{anna}/merge", json={"other_customer_id": other, "reason": "x"})).status_code == 401
