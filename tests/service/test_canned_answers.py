"""Canned answers over the API: short codes, variables, per team, RU/EN."""

from __future__ import annotations

from tests.factories import admin_headers, login, make_api_channel, make_operator
from tests.service.helpers import open_conversation

BODY_RU = "Здравствуйте, {{ customer.name }}! Заказ {{ order_number }} передан курьеру. С уважением, {{ operator.name }}"


async def test_render_fills_in_customer_order_and_operator(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    created = await client.post("/api/v1/canned-answers", json={"shortcut": "/dostavka", "language": "ru", "title": "Доставка", "body": BODY_RU}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["shortcut"] == "dostavka" and created.json()["team_id"] is None
    channel = await make_api_channel(client, admin)
    conversation = await open_conversation(client, ctx, admin, channel=channel, text="Где мой заказ № 5512345?")
    await client.patch(f"/api/v1/customers/{conversation['customer_id']}/attributes", json={"vip_tier": "gold"}, headers=admin)
    operator = await make_operator(ctx, name="Ольга")
    headers = await login(client, email=operator["email"])

    rendered = await client.post(f"/api/v1/canned-answers/{created.json()['id']}/render", json={"conversation_id": conversation["id"]}, headers=headers)
    assert rendered.status_code == 200, rendered.text
    body = rendered.json()
    assert body["text"].endswith("Заказ 5512345 передан курьеру. С уважением, Ольга")
    assert body["missing"] == ["name"] and body["language"] == "ru"  # this customer wrote from a bare phone number

    await client.patch(f"/api/v1/customers/{conversation['customer_id']}/attributes", json={"order_number": "A-77"}, headers=admin)
    again = await client.post(f"/api/v1/canned-answers/{created.json()['id']}/render", json={"conversation_id": conversation["id"]}, headers=headers)
    assert "Заказ A-77" in again.json()["text"]  # the CRM's attribute wins over what the customer typed


async def test_missing_values_are_reported_not_invented(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    answer = (await client.post("/api/v1/canned-answers", json={"shortcut": "status", "language": "en", "title": "Status", "body": "Order {{ order_number }}, tier {{ customer.vip_tier }}."}, headers=admin)).json()
    conversation = await open_conversation(client, ctx, admin, text="hello")
    rendered = (await client.post(f"/api/v1/canned-answers/{answer['id']}/render", json={"conversation_id": conversation["id"]}, headers=admin)).json()
    assert rendered["text"] == "Order , tier ." and rendered["missing"] == ["order_number", "vip_tier"]


async def test_team_scoping_languages_and_search(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    returns = (await client.post("/api/v1/teams", json={"name": "Возвраты"}, headers=admin)).json()["id"]
    other = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=admin)).json()["id"]
    for team_id, shortcut, language in ((None, "hello", "ru"), (None, "hello", "en"), (returns, "refund", "ru"), (other, "discount", "ru")):
        response = await client.post("/api/v1/canned-answers", json={"team_id": team_id, "shortcut": shortcut, "language": language, "title": shortcut, "body": "Текст"}, headers=admin)
        assert response.status_code == 201, response.text
    operator = await make_operator(ctx)
    await client.post(f"/api/v1/teams/{returns}/members", json={"operator_id": operator["id"]}, headers=admin)
    headers = await login(client, email=operator["email"])
    mine = (await client.get("/api/v1/canned-answers", headers=headers)).json()["items"]
    assert sorted((a["shortcut"], a["language"]) for a in mine) == [("hello", "en"), ("hello", "ru"), ("refund", "ru")]
    assert [a["shortcut"] for a in (await client.get("/api/v1/canned-answers", params={"q": "/ref"}, headers=headers)).json()["items"]] == ["refund"]
    assert [a["language"] for a in (await client.get("/api/v1/canned-answers", params={"language": "en"}, headers=headers)).json()["items"]] == ["en"]
    assert len((await client.get("/api/v1/canned-answers", headers=admin)).json()["items"]) == 4

    refused = await client.post("/api/v1/canned-answers", json={"shortcut": "x", "language": "ru", "title": "x", "body": "x"}, headers=headers)
    assert refused.status_code == 403


async def test_mistakes_are_explained(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    base = {"shortcut": "ok", "language": "ru", "title": "t", "body": "Текст"}
    cases = [
        ({"body": "Здравствуйте, {{ customer.name "}, "template error on line 1"),
        ({"body": "{{ password }}"}, "unknown variables ['password']"),
        ({"language": "de"}, "language must be one of: ru, en"),
        ({"shortcut": "два слова"}, "shortcut must be"),
        ({"team_id": 404}, "team 404 does not exist"),
    ]
    for patch, expected in cases:
        response = await client.post("/api/v1/canned-answers", json={**base, **patch}, headers=admin)
        assert response.status_code == 422 and expected in response.json()["detail"], (patch, response.text)
    assert (await client.post("/api/v1/canned-answers", json=base, headers=admin)).status_code == 201
    duplicate = await client.post("/api/v1/canned-answers", json=base, headers=admin)
    assert duplicate.status_code == 409 and "/ok (ru) already exists" in duplicate.json()["detail"]
    sandboxed = await client.post("/api/v1/canned-answers", json={**base, "shortcut": "evil", "body": "{{ customer.__class__.__mro__ }}"}, headers=admin)
    answer_id = sandboxed.json()["id"]
    conversation = await open_conversation(client, ctx, admin)
    rendered = (await client.post(f"/api/v1/canned-answers/{answer_id}/render", json={"conversation_id": conversation["id"]}, headers=admin)).json()
    assert "object" not in rendered["text"]  # the sandbox refuses attribute tricks
    changed = await client.patch(f"/api/v1/canned-answers/{answer_id}", json={"body": "Новый текст"}, headers=admin)
    assert changed.json()["body"] == "Новый текст"
    assert (await client.delete(f"/api/v1/canned-answers/{answer_id}", headers=admin)).status_code == 204
