"""The channels the survey tests run through, each served by its fake provider on loopback and
created by an admin: ``(fake, channel, admin headers)``; the API channel also gives its secret."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import LoopbackServer
from tests.factories import admin_headers
from tests.service.conftest import travel  # noqa: F401  (time travel for the survey delay)


async def _messenger(client, ctx, kind: str, name: str, fake) -> AsyncIterator[tuple]:  # noqa: ANN001
    """A messenger channel of ``kind`` whose webhooks the fake pushes at okno."""
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": kind, "name": name, "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        yield fake, created.json(), headers


@pytest.fixture
async def telegram(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.telegram.fake import FakeTelegram

    async for made in _messenger(client, ctx, "telegram", "TG", FakeTelegram()):
        yield made


@pytest.fixture
async def whatsapp(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.whatsapp.fake import FakeWhatsApp

    async for made in _messenger(client, ctx, "whatsapp", "WA", FakeWhatsApp()):
        yield made


@pytest.fixture
async def api_channel(client, ctx):  # noqa: ANN001, ANN201
    from okno.channels.adapters.api.fake import FakeApiReceiver

    receiver = FakeApiReceiver()
    secret = "integration-secret-0123456789"
    receiver.add_box("crm", secret)
    async with LoopbackServer(receiver.app) as server:
        headers = await admin_headers(ctx, client)
        config = {"secret": secret, "outbound_url": f"{server.url}/boxes/crm/messages"}
        channel = (await client.post("/api/v1/channels", json={"kind": "api", "name": "CRM", "config": config}, headers=headers)).json()
        yield receiver, channel, secret, headers
