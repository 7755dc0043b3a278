"""Integration tokens: shown once, stored hashed, acting with their own role and teams through a
hidden operator of kind integration, revocable (401 afterwards), expiring."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from okno.kit.time import utcnow
from okno.models import AccessToken, ApiToken, AuditEntry, Operator, team_members
from tests.factories import PASSWORD, admin_headers, login, make_operator


async def _team(client, headers, name: str) -> int:
    created = await client.post("/api/v1/teams", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_token_is_shown_once_stored_hashed_and_acts_with_its_role_and_teams(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    team = await _team(client, admin, "Продажи")
    created = await client.post("/api/v1/api-tokens", json={"name": "CRM sync", "role": "operator", "team_ids": [team, team]}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert secret.startswith("okno_") and body["team_ids"] == [team] and body["role"] == "operator" and body["active"] is True
    assert body["expires_at"] is None

    listed = (await client.get("/api/v1/api-tokens", headers=admin)).json()["items"]
    assert [(t["id"], t["name"], t["team_ids"], t["active"]) for t in listed] == [(body["id"], "CRM sync", [team], True)]
    assert secret not in str(listed) and "token" not in listed[0]
    async with ctx.db.reading() as session:
        hashes = list(await session.scalars(select(AccessToken.token_hash)))
        operator = await session.get(Operator, body["operator_id"])
        teams = list(await session.scalars(select(team_members.c.team_id).where(team_members.c.operator_id == operator.id)))
    assert all(secret not in h for h in hashes)
    assert (operator.kind, operator.role, operator.name, teams) == ("integration", "operator", "CRM sync", [team])

    token = {"Authorization": f"Bearer {secret}"}
    me = await client.get("/api/v1/auth/me", headers=token)
    assert me.status_code == 200 and me.json()["kind"] == "integration" and me.json()["id"] == body["operator_id"]
    assert (await client.get("/api/v1/customers", headers=token)).status_code == 200
    assert (await client.get("/api/v1/api-tokens", headers=token)).status_code == 403  # an operator token is no admin
    # never a person: not listed, no presence, no password login, no password change, never assigned
    people = (await client.get("/api/v1/operators", headers=admin)).json()["items"]
    assert body["operator_id"] not in [p["id"] for p in people]
    assert (await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=token)).status_code == 422
    assert (await client.post("/api/v1/auth/login", json={"email": operator.email, "password": "!integration"})).status_code == 401
    password = await client.post("/api/v1/auth/password", json={"current_password": "x" * 8, "new_password": "y" * 8}, headers=token)
    assert password.status_code == 403
    assert (await client.patch(f"/api/v1/operators/{operator.id}", json={"role": "admin"}, headers=admin)).status_code == 404
    assert (await client.post("/api/v1/auth/logout", headers=token)).status_code == 403  # revoked by an admin only
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 200


async def test_a_revoked_token_gets_401_and_revoking_twice_is_409(client, ctx) -> None:
    admin_me = await make_operator(ctx, role="admin")
    admin = await login(client, email=admin_me["email"])
    body = (await client.post("/api/v1/api-tokens", json={"name": "BI export", "role": "admin"}, headers=admin)).json()
    token = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/api/v1/api-tokens", headers=token)).status_code == 200  # an admin token may list them

    assert (await client.delete(f"/api/v1/api-tokens/{body['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/v1/customers", headers=token)).status_code == 401
    assert (await client.delete(f"/api/v1/api-tokens/{body['id']}", headers=admin)).status_code == 409
    assert (await client.delete("/api/v1/api-tokens/424242", headers=admin)).status_code == 404
    listed = (await client.get("/api/v1/api-tokens", headers=admin)).json()["items"]
    assert listed[0]["active"] is False and listed[0]["revoked_at"] is not None
    async with ctx.db.reading() as session:
        entries = (await session.execute(select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.subject_id).where(AuditEntry.subject_type == "api_token"))).all()
    assert [tuple(e) for e in entries] == [("api_token.created", admin_me["id"], str(body["id"])), ("api_token.revoked", admin_me["id"], str(body["id"]))]


async def test_an_expired_token_gets_401_and_bad_requests_are_422(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    body = (await client.post("/api/v1/api-tokens", json={"name": "temp", "expires_at": soon}, headers=admin)).json()
    token = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/api/v1/customers", headers=token)).status_code == 200
    async with ctx.db.transaction() as session:  # an hour passes
        past = utcnow() - timedelta(seconds=1)
        await session.execute(update(ApiToken).values(expires_at=past))
        await session.execute(update(AccessToken).where(AccessToken.operator_id == body["operator_id"]).values(expires_at=past))
    assert (await client.get("/api/v1/customers", headers=token)).status_code == 401
    assert (await client.get("/api/v1/api-tokens", headers=admin)).json()["items"][0]["active"] is False

    for bad, needle in (
        ({"name": "x", "expires_at": (utcnow() - timedelta(minutes=1)).isoformat()}, "future"),
        ({"name": "x", "expires_at": "2030-01-01T00:00:00"}, "timezone"),
        ({"name": "x", "team_ids": [987654]}, "987654"),
        ({"name": "x", "role": "root"}, "role"),
        ({"name": " "}, "name"),
    ):
        refused = await client.post("/api/v1/api-tokens", json=bad, headers=admin)
        assert refused.status_code == 422 and needle in str(refused.json()["detail"]), (bad, refused.json())


async def test_the_admin_page_lists_tokens_and_account_controls_for_admins_only(client, ctx) -> None:
    admin_me = await make_operator(ctx, role="admin", name="Админ")
    admin = await login(client, email=admin_me["email"])
    team = await _team(client, admin, "Склад")
    await client.post("/api/v1/api-tokens", json={"name": "Учёт", "role": "supervisor", "team_ids": [team]}, headers=admin)
    revoked = (await client.post("/api/v1/api-tokens", json={"name": "Старый", "role": "operator"}, headers=admin)).json()
    await client.delete(f"/api/v1/api-tokens/{revoked['id']}", headers=admin)
    olga = await make_operator(ctx, name="Ольга")

    assert (await client.post("/ui/session", json={"email": admin_me["email"], "password": PASSWORD})).status_code == 200
    page = (await client.get("/admin/tokens")).text + (await client.get("/admin/operators")).text
    assert 'data-testid="tokens-table"' in page and "Учёт" in page and "Склад" in page and "отозван" in page and "действует" in page
    assert f'data-account-active="{olga["id"]}"' in page and f'data-account-role="{olga["id"]}"' in page
    assert page.count('data-token-revoke="') == 1  # the revoked one has no button
    assert page.count("<tr data-operator=") == 2  # the tokens' operators are not listed as people

    supervisor = await make_operator(ctx, role="supervisor")
    assert (await client.post("/ui/session", json={"email": supervisor["email"], "password": PASSWORD})).status_code == 200
    assert (await client.get("/admin/tokens")).status_code == 403  # the page says so, in his language
    seen = (await client.get("/admin/operators")).text
    assert 'data-testid="tokens-table"' not in seen and "data-account-active" not in seen and "Учёт" not in seen
