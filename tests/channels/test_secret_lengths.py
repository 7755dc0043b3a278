"""Webhook secrets an admin saves must be long enough to resist guessing (16 characters); a
channel stored with a shorter one keeps working until its settings are changed. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from okno.channels.adapters.vk.adapter import VkConfig
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.service import seal_config
from okno.models import Channel, Message
from tests.factories import admin_headers

VALID = {
    "telegram": {"bot_token": "123:abc", "secret_token": "telegram-secret-0123", "api_base": "https://tg.example"},
    "whatsapp": {"phone_number_id": "1065", "access_token": "t", "app_secret": "meta-app-secret-0123", "verify_token": "v", "graph_base": "https://graph.example"},
    "vk": {"group_id": 7, "access_token": "t", "secret": "vk-callback-secret-01", "confirmation_code": "c0de", "api_base": "https://vk.example"},
    "max": {"token": "t", "secret": "max-secret-0123456", "api_base": "https://max.example"},
    "api": {"secret": "api-secret-0123456789"},
}
SECRET_FIELD = {"telegram": "secret_token", "whatsapp": "app_secret", "vk": "secret", "max": "secret", "api": "secret"}


@pytest.mark.parametrize("kind", sorted(VALID))
@pytest.mark.parametrize("short", ["Q", "Qwzq9k", "fifteen-chars-1"])
async def test_a_short_secret_is_refused_when_saved(client, ctx, kind: str, short: str) -> None:
    headers = await admin_headers(ctx, client)
    field = SECRET_FIELD[kind]
    refused = await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": {**VALID[kind], field: short}}, headers=headers)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith(f"invalid {kind} channel config: {field}: ") and "16 characters" in detail and short not in detail
    created = await client.post("/api/v1/channels", json={"kind": kind, "name": kind, "config": VALID[kind]}, headers=headers)
    assert created.status_code == 201, created.text
    kinds = (await client.get("/api/v1/channels/kinds", headers=headers)).json()["items"]
    schema = next(k["config_schema"] for k in kinds if k["kind"] == kind)
    assert schema["properties"][field]["minLength"] == 16  # the admin form's field says so too


async def test_a_channel_stored_with_a_short_secret_works_until_its_settings_change(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    fake = FakeVk(group_id=7, secret="s3cr3t", confirmation_code="c0de")
    stored = VkConfig(group_id=7, access_token="t", secret="s3cr3t", confirmation_code="c0de", api_base="https://vk.example")
    async with ctx.db.transaction() as session:
        channel = Channel(kind="vk", name="VK", config_sealed=seal_config(ctx.box, stored))
        session.add(channel)
        await session.flush()
        channel_id = channel.id
    fake.connect(client, f"/webhooks/{channel_id}")
    assert (await fake.deliver_text("500777", "Здравствуйте")).content == b"ok"  # verified with the stored secret
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert [m.text for m in await session.scalars(select(Message))] == ["Здравствуйте"]
    assert (await client.patch(f"/api/v1/channels/{channel_id}", json={"name": "ВКонтакте"}, headers=headers)).status_code == 200
    changed = await client.patch(f"/api/v1/channels/{channel_id}", json={"config": {"confirmation_code": "new0"}}, headers=headers)
    assert changed.status_code == 422 and "secret: must be at least 16 characters" in changed.json()["detail"]
    renewed = await client.patch(f"/api/v1/channels/{channel_id}", json={"config": {"secret": "vk-callback-secret-01"}}, headers=headers)
    assert renewed.status_code == 200, renewed.text
