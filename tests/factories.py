"""Keyword-only factories for test data, going through the same services the API uses."""

from __future__ import annotations

import secrets

import httpx
import orjson

from okno.auth.service import create_operator
from okno.channels.adapters.api.signing import sign
from okno.context import AppContext

PASSWORD = "correct horse battery"


async def make_operator(ctx: AppContext, *, email: str | None = None, role: str = "operator", name: str = "") -> dict:
    email = email or f"op-{secrets.token_hex(3)}@okno.test"
    async with ctx.db.transaction() as session:
        operator = await create_operator(session, email=email, password=PASSWORD, role=role, name=name)
    return {"id": operator.id, "email": email, "password": PASSWORD}


async def login(client: httpx.AsyncClient, *, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def admin_headers(ctx: AppContext, client: httpx.AsyncClient) -> dict[str, str]:
    admin = await make_operator(ctx, role="admin")
    return await login(client, email=admin["email"])


async def make_api_channel(
    client: httpx.AsyncClient, headers: dict[str, str], *, secret: str | None = None, outbound_url: str | None = None, team_id: int | None = None
) -> dict:
    secret = secret or secrets.token_hex(16)
    config: dict = {"secret": secret}
    if outbound_url:
        config["outbound_url"] = outbound_url
    response = await client.post(
        "/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config, "team_id": team_id}, headers=headers
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "secret": secret}


def signed(secret: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {"content-type": "application/json", "x-okno-signature": sign(secret, body)}


async def post_inbound(client: httpx.AsyncClient, channel: dict, payload: dict) -> httpx.Response:
    body, headers = signed(channel["secret"], payload)
    return await client.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
