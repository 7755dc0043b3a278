from __future__ import annotations

import pytest
from sqlalchemy import select

from okno.models import AuditEntry, Channel
from tests.factories import PASSWORD, admin_headers, login, make_operator


@pytest.mark.real_password_hashing
async def test_login_me_logout_and_token_revocation(client, ctx) -> None:
    operator = await make_operator(ctx, email="Olga@Okno.Test", name="Ольга")
    headers = await login(client, email="olga@okno.test")
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["email"] == "olga@okno.test" and me.json()["role"] == "operator"
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert operator["id"] == me.json()["id"]


@pytest.mark.real_password_hashing
async def test_wrong_password_unknown_user_and_missing_token_are_401(client, ctx) -> None:
    await make_operator(ctx, email="a@okno.test")
    for body in ({"email": "a@okno.test", "password": "wrong-password"}, {"email": "nobody@okno.test", "password": PASSWORD}):
        response = await client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 401 and response.json() == {"detail": "wrong e-mail or password", "code": "unauthorized"}
    for headers in ({}, {"Authorization": "Bearer okno_forged"}, {"Authorization": "Basic abc"}):
        response = await client.get("/api/v1/customers", headers=headers)
        assert response.status_code == 401 and "detail" in response.json()
    malformed = await client.post("/api/v1/auth/login", json={"email": "a@okno.test"})
    assert malformed.status_code == 422


async def test_roles_gate_admin_actions(client, ctx) -> None:
    await make_operator(ctx, email="op@okno.test")
    operator = await login(client, email="op@okno.test")
    admin = await admin_headers(ctx, client)
    denied = await client.post("/api/v1/channels", json={"kind": "api", "name": "x", "config": {"secret": "s" * 20}}, headers=operator)
    assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    assert (await client.post("/api/v1/operators", json={"email": "n@okno.test", "password": PASSWORD}, headers=operator)).status_code == 403
    created = await client.post("/api/v1/operators", json={"email": "n@okno.test", "password": PASSWORD, "role": "supervisor"}, headers=admin)
    assert created.status_code == 201 and created.json()["role"] == "supervisor"
    duplicate = await client.post("/api/v1/operators", json={"email": "N@okno.test", "password": PASSWORD}, headers=admin)
    assert duplicate.status_code == 409
    bad_role = await client.post("/api/v1/operators", json={"email": "m@okno.test", "password": PASSWORD, "role": "god"}, headers=admin)
    assert bad_role.status_code == 422 and "role" in bad_role.json()["detail"]
    short = await client.post("/api/v1/operators", json={"email": "m@okno.test", "password": "short"}, headers=admin)
    assert short.status_code == 422 and "8 characters" in short.json()["detail"]


async def test_channel_config_is_validated_masked_and_sealed_at_rest(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    secret = "super-secret-signing-key"
    created = await client.post(
        "/api/v1/channels",
        json={"kind": "api", "name": "CRM", "config": {"secret": secret, "outbound_url": "https://crm.example/hook"}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["webhook_url"] == f"http://okno.test/webhooks/{channel['id']}"
    assert channel["config"] == {"secret": "********", "outbound_url": "https://crm.example/hook"}
    listed = (await client.get("/api/v1/channels", headers=headers)).json()["items"]
    assert [c["id"] for c in listed] == [channel["id"]] and secret not in str(listed)

    async with ctx.db.reading() as session:
        stored = await session.scalar(select(Channel.config_sealed))
        audited = (await session.scalars(select(AuditEntry.action))).all()
    assert secret not in stored and "crm.example" not in stored
    assert "channel.created" in audited

    for body, needle in (
        ({"kind": "telegraph", "name": "x", "config": {}}, "unknown channel kind"),
        ({"kind": "api", "name": "x", "config": {}}, "secret"),
        ({"kind": "api", "name": "x", "config": {"secret": "short"}}, "secret"),
        ({"kind": "api", "name": "x", "config": {"secret": "s" * 20, "outbound_url": "not a url"}}, "outbound_url"),
        ({"kind": "api", "name": "x", "config": {"secret": "s" * 20, "extra": 1}}, "extra"),
        ({"kind": "api", "name": "x", "config": {"secret": "s" * 20}, "team_id": 999}, "team 999"),
    ):
        response = await client.post("/api/v1/channels", json=body, headers=headers)
        assert response.status_code == 422, body
        assert needle in str(response.json()["detail"]), (body, response.json())


async def test_channel_kinds_expose_config_schema_and_capabilities(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    kinds = (await client.get("/api/v1/channels/kinds", headers=headers)).json()["items"]
    api = next(k for k in kinds if k["kind"] == "api")
    assert api["config_schema"]["properties"]["secret"]["writeOnly"] is True
    assert "secret" in api["config_schema"]["required"]
    assert api["capabilities"]["max_text_length"] == 65536


async def test_customer_lookup_validates_identity_and_404s(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    for bad in ("phone", "fax:123", "phone:abc", "email:not-an-email"):
        response = await client.get("/api/v1/customers", params={"identity": bad}, headers=headers)
        assert response.status_code == 422 and isinstance(response.json()["detail"], str), bad
    assert (await client.get("/api/v1/customers/424242", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/customers/424242/timeline", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/conversations/424242/messages", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/conversations", params={"status": "weird"}, headers=headers)).status_code == 422


async def test_openapi_document_is_served(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/auth/login", "/api/v1/channels", "/api/v1/customers", "/api/v1/customers/{customer_id}/timeline",
                 "/api/v1/conversations/{conversation_id}/messages", "/webhooks/{channel_id}"):
        assert path in spec["paths"], path
