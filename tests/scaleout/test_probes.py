"""/healthz, /readyz and /metrics of the serving process: readiness checks the database (and
the bus when one is configured), metrics are read from loopback only or with the token."""

from __future__ import annotations

import httpx
from okno.app import create_app
from okno.config import Settings
from tests.factories import make_api_channel, admin_headers, post_inbound


async def test_readyz_checks_the_database_and_metrics_show_ingest_and_queues(client, ctx) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {"database": "ok"}}

    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    assert (await post_inbound(client, channel, {"message_id": "m1", "from": {"phone": "+79160000001"}, "text": "hi"})).status_code == 200
    text = (await client.get("/metrics")).text  # the test client's peer is loopback
    assert 'okno_ingest_requests_total{status="200"}' in text
    assert "okno_ingest_seconds_bucket" in text
    assert 'okno_queue_depth{queue="outbox_unpublished"}' in text  # read at scrape: the relay has not run
    line = next(x for x in text.splitlines() if x.startswith('okno_queue_depth{queue="outbox_unpublished"}'))
    assert float(line.split()[-1]) >= 1

    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 404  # a proxy on loopback forwarding an outsider


async def test_readyz_reports_the_database_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"})
    app = create_app(broken, start_workers=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.test") as client:
            answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"].startswith("down")


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": "scrape-secret-1"}), start_workers=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.test") as client:
        await _token_checks(client)


async def _token_checks(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
    answer = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
