"""Mounts the fake providers under ``/fake`` (demo and development only: ``OKNO_FAKE_PROVIDERS=1``).

Each fake speaks its provider's real wire contract on loopback; okno's real adapters talk to it
over HTTP exactly as they would to the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.service import open_config
from okno.models import Channel

if TYPE_CHECKING:
    from fastapi import FastAPI

    from okno.context import AppContext


async def mount_fake_providers(app: FastAPI, ctx: AppContext) -> None:
    receiver = FakeApiReceiver()
    async with ctx.db.reading() as session:
        for channel in await session.scalars(select(Channel).where(Channel.kind == "api")):
            config = open_config(ctx.box, channel)
            url = str(getattr(config, "outbound_url", "") or "")
            if "/fake/api/boxes/" in url:
                box = url.split("/fake/api/boxes/", 1)[1].split("/", 1)[0]
                receiver.add_box(box, config.secret.get_secret_value())  # type: ignore[attr-defined]
    app.state.fake_api = receiver
    app.mount("/fake/api", receiver.app)
