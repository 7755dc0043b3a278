"""Login throttling per account and per address, failed logins in the audit log, and the password
checked before any write transaction."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

import okno.auth.service
from okno.models import AuditEntry, LoginFailure, Team
from tests.factories import PASSWORD, make_operator

pytestmark = pytest.mark.real_password_hashing


def _from(app, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 4000)), base_url="http://okno.test")


async def test_the_11th_wrong_login_is_429_with_retry_after_even_with_the_right_password(client, ctx, app) -> None:
    olga = await make_operator(ctx, email="olga@okno.test")
    first_failure = time.monotonic()
    for _ in range(10):
        refused = await client.post("/api/v1/auth/login", json={"email": "OLGA@okno.test", "password": "wrong password"})
        assert refused.status_code == 401
    throttled = await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": "wrong password"})
    assert throttled.status_code == 429, throttled.text
    # the window is 15 minutes from the oldest failure: what the ten real argon2 checks took is gone from it
    assert 900 - math.ceil(time.monotonic() - first_failure) - 1 <= int(throttled.headers["retry-after"]) <= 900
    assert "too many failed logins" in throttled.json()["detail"]
    right = await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})
    assert right.status_code == 429  # the password is not even checked
    async with _from(app, "10.1.2.3") as elsewhere:  # the account is throttled from any address
        assert (await elsewhere.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})).status_code == 429
    assert (await client.post("/ui/session", json={"email": olga["email"], "password": PASSWORD})).status_code == 429  # the UI too

    async with ctx.db.reading() as session:
        failed = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")))
    assert len(failed) == 10  # a throttled attempt writes nothing
    assert {(e.subject_type, e.subject_id, e.data["ip"], e.data["reason"]) for e in failed} == {("operator", str(olga["id"]), "127.0.0.1", "wrong password")}

    # once the oldest failure leaves the window, one more attempt is allowed; a success clears the count
    async with ctx.db.transaction() as session:
        oldest = await session.get(LoginFailure, await session.scalar(select(func.min(LoginFailure.id))))
        oldest.at -= timedelta(minutes=16)
    assert (await client.post("/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD})).status_code == 200
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.email == olga["email"])) == 0


async def test_one_address_guessing_many_accounts_is_throttled(client, ctx, app) -> None:
    ctx.settings.login_max_failures_per_ip = 5
    await make_operator(ctx, email="real@okno.test")
    async with _from(app, "203.0.113.9") as attacker:
        for n in range(5):
            assert (await attacker.post("/api/v1/auth/login", json={"email": f"guess{n}@okno.test", "password": "x"})).status_code == 401
        throttled = await attacker.post("/api/v1/auth/login", json={"email": "real@okno.test", "password": PASSWORD})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    # the account itself is not locked for everybody else
    assert (await client.post("/api/v1/auth/login", json={"email": "real@okno.test", "password": PASSWORD})).status_code == 200
    async with ctx.db.reading() as session:
        unknown = await session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login_failed"))
    assert unknown.subject_type == "login" and unknown.data == {"email": "guess0@okno.test", "ip": "203.0.113.9", "reason": "unknown e-mail"}


async def test_the_password_is_checked_while_no_write_transaction_is_open(client, ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """While argon2 runs for a login, another writer commits: the login holds no writer."""
    await make_operator(ctx, email="olga@okno.test")
    real_check = okno.auth.service.check_password
    wrote_meanwhile: list[bool] = []

    async def check_while_someone_writes(password: str, password_hash: str | None) -> bool:
        async def write() -> None:
            async with ctx.db.transaction() as session:
                session.add(Team(name=f"written during a password check {len(wrote_meanwhile)}"))

        await asyncio.wait_for(write(), timeout=5)  # on SQLite's one writer this would wait forever
        wrote_meanwhile.append(True)
        return await real_check(password, password_hash)

    monkeypatch.setattr(okno.auth.service, "check_password", check_while_someone_writes)
    assert (await client.post("/api/v1/auth/login", json={"email": "olga@okno.test", "password": PASSWORD})).status_code == 200
    assert (await client.post("/api/v1/auth/login", json={"email": "olga@okno.test", "password": "wrong one"})).status_code == 401
    assert wrote_meanwhile == [True, True]
