"""Liveness, readiness and metrics of a process (``okno serve`` and ``okno worker --port``).

- ``GET /healthz``: the process answers (liveness; restart it if not).
- ``GET /readyz``: the database answers ``SELECT 1`` and, with ``OKNO_BUS_URL``, the NATS
  connection is up (200 with each check, else 503 naming what is down: take it out of the
  load balancer).
- ``GET /metrics``: Prometheus text (``okno.kit.metrics``), with queue depths and the bus
  consumers' pending counts read at scrape time. Who may read it: a peer on loopback that came
  through no proxy (no ``X-Forwarded-For``), or anyone with ``Authorization: Bearer
  <OKNO_METRICS_TOKEN>`` when that is set; others get 404 (the route does not advertise itself).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from okno.kit import metrics
from okno.models import DeliveryJob, EventDelivery, InboundItem, Job, OutboxEvent

if TYPE_CHECKING:
    from okno.context import AppContext

CHECK_TIMEOUT = 3.0


async def readiness(ctx: AppContext) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with ctx.db.reading() as session:
                await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    if ctx.nats is not None:
        checks["bus"] = "ok" if await ctx.nats.ping() else "down: not connected to NATS"
    return all(v == "ok" for v in checks.values()), checks


async def queue_depths(ctx: AppContext) -> dict[str, int]:
    async with ctx.db.reading() as session:
        queries: dict[str, Any] = {
            "inbound_pending": select(func.count()).select_from(InboundItem).where(InboundItem.status == "pending"),
            "outbox_unpublished": select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)),
            "deliveries_queued": select(func.count()).select_from(DeliveryJob).where(DeliveryJob.status == "pending"),
            "event_retries_pending": select(func.count()).select_from(EventDelivery).where(EventDelivery.status == "pending"),
            "event_deliveries_parked": select(func.count()).select_from(EventDelivery).where(EventDelivery.status == "parked"),
            "jobs_queued": select(func.count()).select_from(Job).where(Job.status == "queued"),
        }
        return {name: int(await session.scalar(query) or 0) for name, query in queries.items()}


async def metrics_text(ctx: AppContext) -> bytes:
    try:
        for name, depth in (await queue_depths(ctx)).items():
            metrics.QUEUE_DEPTH.labels(name).set(depth)
    except Exception:  # the database is away: /readyz says so; the counters are still worth reading
        pass
    if ctx.nats is not None:
        try:
            for name, pending in (await ctx.nats.consumer_pending()).items():
                metrics.CONSUMER_PENDING.labels(name).set(pending)
        except Exception:
            pass
    return generate_latest(metrics.REGISTRY)


def may_read_metrics(request: Request, token: str) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if request.headers.get("x-forwarded-for") or request.headers.get("forwarded"):
        return False  # a proxy on loopback forwarded someone else's request
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ready, checks = await readiness(request.app.state.ctx)
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)


async def metrics_endpoint(request: Request) -> Response:
    ctx = request.app.state.ctx
    if not may_read_metrics(request, ctx.settings.metrics_token):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    return Response(await metrics_text(ctx), media_type=CONTENT_TYPE_LATEST)
