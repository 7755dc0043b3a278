"""okno in one process for the in-process benches (``ingest_cpu.py``, ``ingest_stages.py``,
``wal_pages.py``): a fresh SQLite file migrated to head with a new personal-data key, its
settings (workers off: a bench drives them), and okno built on it with one API channel, warmed
up with signed webhooks, the measured ones ready."""

from __future__ import annotations

import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from ingest import SignedBody, make_bodies, make_customers, sign_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's factories

from okno.app import create_app  # noqa: E402
from okno.config import Settings  # noqa: E402
from okno.kit import pii  # noqa: E402
from okno.kit.db import create_oneoff_engine  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402
from tests.factories import admin_headers, make_api_channel  # noqa: E402


async def fresh_settings(workdir: Path) -> Settings:
    """``workdir/okno.db`` migrated to head; the settings okno is built with on it."""
    key = Fernet.generate_key().decode()
    pii.use_keys([key])
    url = f"sqlite+aiosqlite:///{workdir}/okno.db"
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    return Settings(data_dir=workdir, database_url=url, secret_keys=key, embedded_workers=False, log_level="warning", allow_private_urls=True)


def signed_loads(secret: str, *, seed: int, customers: int, warmup: int, messages: int) -> tuple[list[SignedBody], list[SignedBody]]:
    """The warm-up's and the measured run's webhooks, signed for a channel with ``secret``."""
    rng = random.Random(seed)
    people = make_customers(rng, customers)
    return (
        sign_all(secret, make_bodies(rng, people, warmup, "warm")),
        sign_all(secret, make_bodies(rng, people, messages, "msg")),
    )


@dataclass
class WarmOkno:
    app: Any
    ctx: Any  # okno.context.AppContext
    client: httpx.AsyncClient  # through the ASGI app, no network
    path: str  # the API channel's webhook
    measured: list[SignedBody]  # signed, not yet sent


@asynccontextmanager
async def warmed_okno(
    settings: Settings, *, seed: int, customers: int, warmup: int, messages: int,
    send: Callable[[WarmOkno, list[SignedBody]], Awaitable[None]],
) -> AsyncIterator[WarmOkno]:  # fmt: skip
    """okno built on ``settings`` (its lifespan running) with one API channel; the warm-up sent
    with ``send`` and every queue drained before it is handed over."""
    app = create_app(settings, start_workers=False)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.test") as client:
            channel = await make_api_channel(client, await admin_headers(ctx, client))
            warm, measured = signed_loads(channel["secret"], seed=seed, customers=customers, warmup=warmup, messages=messages)
            okno = WarmOkno(app, ctx, client, f"/webhooks/{channel['id']}", measured)
            await send(okno, warm)
            await ctx.settle()
            yield okno
