"""Accounts: an admin changes role, activation and password; an operator changes his own; roles
gate who may do it; every change is in the audit log."""

from __future__ import annotations

import argon2
import pytest
from sqlalchemy import select

from okno.models import AuditEntry, Operator
from tests.factories import PASSWORD, admin_headers, login, make_operator

NEW_PASSWORD = "a brand new passphrase"


async def _actions(ctx, subject_id: int) -> list[str]:
    async with ctx.db.reading() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_type == "operator", AuditEntry.subject_id == str(subject_id)).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_a_deactivated_operator_gets_401_and_cannot_log_in_until_reactivated(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    olga = await make_operator(ctx, email="olga@okno.test")
    olga_headers = await login(client, email=olga["email"])
    assert (await client.get("/api/v1/auth/me", headers=olga_headers)).status_code == 200

    changed = await client.patch(f"/api/v1/operators/{olga['id']}", json={"is_active": False}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_active"] is False and changed.json()["presence"] == "offline"
    assert (await client.get("/api/v1/auth/me", headers=olga_headers)).status_code == 401  # her token is revoked
    refused = await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})
    assert refused.status_code == 401

    assert (await client.patch(f"/api/v1/operators/{olga['id']}", json={"is_active": True}, headers=admin)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=olga_headers)).status_code == 401  # revoked stays revoked
    assert (await client.get("/api/v1/auth/me", headers=await login(client, email=olga["email"]))).status_code == 200
    assert await _actions(ctx, olga["id"]) == [
        "operator.created", "operator.logged_in", "operator.deactivated", "auth.login_failed", "operator.activated", "operator.logged_in",
    ]  # fmt: skip
    async with ctx.db.reading() as session:
        failed = await session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login_failed"))
    assert failed.data == {"email": "olga@okno.test", "ip": "127.0.0.1", "reason": "inactive account"}


async def test_role_change_is_audited_and_takes_effect_at_once(client, ctx) -> None:
    admin_me = await make_operator(ctx, role="admin")
    admin = await login(client, email=admin_me["email"])
    sup = await make_operator(ctx, role="supervisor")
    sup_headers = await login(client, email=sup["email"])
    assert (await client.get("/api/v1/api-tokens", headers=sup_headers)).status_code == 403

    promoted = await client.patch(f"/api/v1/operators/{sup['id']}", json={"role": "admin", "skills": ["vip"]}, headers=admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin" and promoted.json()["skills"] == ["vip"]
    assert (await client.get("/api/v1/api-tokens", headers=sup_headers)).status_code == 200  # the same token, the new role
    async with ctx.db.reading() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "operator.role_changed"))
    assert (entry.actor_id, entry.subject_id, entry.data) == (admin_me["id"], str(sup["id"]), {"from": "supervisor", "to": "admin"})

    bad = await client.patch(f"/api/v1/operators/{sup['id']}", json={"role": "god"}, headers=admin)
    assert bad.status_code == 422
    assert (await client.patch("/api/v1/operators/999999", json={"role": "operator"}, headers=admin)).status_code == 404


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(client, ctx) -> None:
    me = await make_operator(ctx, role="admin")
    headers = await login(client, email=me["email"])
    for body in ({"role": "operator"}, {"is_active": False}):
        refused = await client.patch(f"/api/v1/operators/{me['id']}", json=body, headers=headers)
        assert refused.status_code == 409 and "last active admin" in refused.json()["detail"]
    other = await make_operator(ctx, role="admin")
    assert (await client.patch(f"/api/v1/operators/{other['id']}", json={"is_active": False}, headers=headers)).status_code == 200
    assert (await client.patch(f"/api/v1/operators/{me['id']}", json={"role": "operator"}, headers=headers)).status_code == 409


async def test_operators_cannot_change_others_or_create_tokens_or_read_the_audit_log(client, ctx) -> None:
    await make_operator(ctx, role="admin")
    op = await make_operator(ctx)
    victim = await make_operator(ctx)
    headers = await login(client, email=op["email"])
    for body in ({"role": "admin"}, {"is_active": False}, {"password": NEW_PASSWORD}):
        assert (await client.patch(f"/api/v1/operators/{victim['id']}", json=body, headers=headers)).status_code == 403
        assert (await client.patch(f"/api/v1/operators/{op['id']}", json=body, headers=headers)).status_code == 403  # nor himself
    assert (await client.post("/api/v1/api-tokens", json={"name": "mine", "role": "admin"}, headers=headers)).status_code == 403
    assert (await client.get("/api/v1/api-tokens", headers=headers)).status_code == 403
    assert (await client.delete("/api/v1/api-tokens/1", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/audit", headers=headers)).status_code == 403
    sup = await make_operator(ctx, role="supervisor")
    sup_headers = await login(client, email=sup["email"])
    assert (await client.patch(f"/api/v1/operators/{victim['id']}", json={"is_active": False}, headers=sup_headers)).status_code == 403
    assert (await client.post("/api/v1/api-tokens", json={"name": "x"}, headers=sup_headers)).status_code == 403


@pytest.mark.real_password_hashing
async def test_an_admin_resets_a_password_and_every_session_of_that_operator_ends(client, ctx) -> None:
    admin = await admin_headers(ctx, client)
    olga = await make_operator(ctx)
    old = await login(client, email=olga["email"])
    short = await client.patch(f"/api/v1/operators/{olga['id']}", json={"password": "short"}, headers=admin)
    assert short.status_code == 422 and "8 characters" in short.json()["detail"]
    assert (await client.get("/api/v1/auth/me", headers=old)).status_code == 200  # nothing changed

    assert (await client.patch(f"/api/v1/operators/{olga['id']}", json={"password": NEW_PASSWORD}, headers=admin)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=old)).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=await login(client, email=olga["email"], password=NEW_PASSWORD))).status_code == 200
    assert "operator.password_reset" in await _actions(ctx, olga["id"])


@pytest.mark.real_password_hashing
async def test_an_operator_changes_his_own_password_and_his_other_sessions_end(client, ctx) -> None:
    olga = await make_operator(ctx)
    laptop = await login(client, email=olga["email"])
    phone = await login(client, email=olga["email"])
    wrong = await client.post("/api/v1/auth/password", json={"current_password": "not it at all", "new_password": NEW_PASSWORD}, headers=laptop)
    assert wrong.status_code == 403 and "current password" in wrong.json()["detail"]
    short = await client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=laptop)
    assert short.status_code == 422
    changed = await client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=laptop)
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/auth/me", headers=laptop)).status_code == 200  # the session that changed it stays
    assert (await client.get("/api/v1/auth/me", headers=phone)).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})).status_code == 401
    await login(client, email=olga["email"], password=NEW_PASSWORD)
    actions = await _actions(ctx, olga["id"])
    assert "operator.password_change_failed" in actions and "operator.password_changed" in actions
    async with ctx.db.reading() as session:  # okno's own parameters (the other tests hash cheaply)
        stored = await session.scalar(select(Operator.password_hash).where(Operator.id == olga["id"]))
    assert argon2.extract_parameters(stored) == argon2.profiles.RFC_9106_LOW_MEMORY
