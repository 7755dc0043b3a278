"""The ASGI application: API, provider webhooks, and (embedded mode) the background workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from okno import __version__
from okno.api import accounts, attachments, auth, channels, conversations, customers, files, operators, templates, webhooks
from okno.api import events as event_routes
from okno.api import data_subject as data_subject_routes
from okno.api import reports as report_routes
from okno.web import reports_page
from okno.web import survey_links
from okno.api import jobs as job_routes
from okno.api import merges as identity_routes
from okno.api import surveys as survey_routes
from okno.api import inbox as inbox_routes
from okno.api import automation, canned, catalog, conversation_actions, customer_attributes, routing, sla
from okno.api.errors import install_error_handlers
from okno.api.security_headers import SecurityHeaders
from okno.api.input_guard import InputGuard
from okno.api.openapi_errors import install_error_schema
from okno.api.webhooks import is_webhook, serve_webhook
from okno.channels.registry import adapter_routers
from okno.config import Settings, get_settings
from okno.context import AppContext, build_context
from okno.kit.heap import settle_heap
from okno.kit.logging import configure_logging
from okno.ops import probes
from okno.web import routes as web_routes
from okno.web.not_found import page_or_json, refused
from okno.web.pages import LoginRequired, PageRefused

log = structlog.get_logger()


class _OknoApp(FastAPI):
    """FastAPI with the webhook fast path in front of everything: a provider's request is
    answered before FastAPI's own entry (its telemetry check) and its error and body-limit
    layers (the fast path enforces its own body limit and answers its own errors); everything
    else goes through them as usual, inside the security headers (outermost but for the fast
    path, so even a 500 carries them)."""

    trusted_proxies = ""  # OKNO_TRUSTED_PROXIES, for the security headers' Secure cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_webhook(scope):
            scope["app"] = self
            await serve_webhook(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), trusted_proxies=self.trusted_proxies)


def create_app(settings: Settings | None = None, *, start_workers: bool | None = None, freeze_heap: bool = False) -> FastAPI:
    """``freeze_heap`` (the serving process): once started, the garbage collector is set for a
    long-running process (``okno.kit.heap.settle_heap``: startup's heap frozen, young
    collections spaced out)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx: AppContext = build_context(settings)
        app.state.ctx = ctx
        app.state.channel_runtime = ctx.channel_runtime  # adapters' own routes see only this
        await ctx.open_bus(live=True)
        if settings.fake_providers:
            from okno.fakes import mount_fake_providers

            await mount_fake_providers(app, ctx)
        companions = None
        if settings.embedded_workers if start_workers is None else start_workers:
            ctx.start_workers()
            if settings.ingest_by_worker:
                log.warning("ingest_by_worker_ignored", reason="this process runs the workers itself (OKNO_EMBEDDED_WORKERS is true)")
        elif start_workers is None:  # served beside `okno worker`
            from okno.worker_process import start_serving_companions

            companions = start_serving_companions(ctx)
        simulation = None
        if settings.fake_providers and settings.simulate_rate > 0:
            from okno.simulator import start_in_background

            simulation = start_in_background(settings)
        if freeze_heap:
            settle_heap()
        try:
            yield
        finally:
            if simulation is not None:
                simulation.cancel()
                await asyncio.gather(simulation, return_exceptions=True)
            if companions is not None:
                await companions.stop()
            await ctx.close()
            if settings.fake_providers:
                from okno.fakes import close_fake_providers

                close_fake_providers(app)

    app = _OknoApp(title="okno", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(InputGuard, scan_limit=settings.max_upload_bytes * 10 + 1_048_576)  # NUL → 422, ids past 64 bits → 404
    app.trusted_proxies = settings.trusted_proxies  # SecurityHeaders: CSP, framing, nosniff, Secure cookies
    for module in (auth, accounts, operators, channels, customers, conversations, attachments, webhooks, web_routes):
        app.include_router(module.router)
    for router in adapter_routers():  # channels that serve HTTP themselves (the widget's socket…)
        app.include_router(router)
    app.include_router(identity_routes.router)  # merges, undo, identity conflicts
    app.include_router(event_routes.router)  # failed event deliveries (admins)
    app.include_router(job_routes.router)  # following a durable job
    app.include_router(data_subject_routes.router)  # export, erase, retention settings
    app.include_router(survey_routes.router)  # CSAT, NPS and CES surveys (admins)
    app.include_router(inbox_routes.router)  # bulk actions, tags in use, saved views
    app.mount("/static", web_routes.static, name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(StarletteHTTPException, page_or_json)  # a browser's unknown address: a page
    app.add_exception_handler(PageRefused, refused)  # a page his role does not open: a page too (403)

    # the service process: statuses and reasons; status, assignment, priority, escalation; SLA; customer attributes
    for module in (catalog, conversation_actions, sla, customer_attributes, routing, canned, automation, files, templates):
        app.include_router(module.router)
    app.include_router(report_routes.router)  # analytics: summary, time series, operators, exports
    app.include_router(reports_page.router)  # the reports page (supervisors, admins)
    app.include_router(survey_links.router)  # the public page behind e-mail surveys' score links

    install_error_schema(app)  # the error bodies okno really sends, in /openapi.json

    # liveness, readiness (database and bus) and Prometheus metrics (okno.ops.probes)
    app.add_route("/healthz", probes.healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", probes.readyz, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", probes.metrics_endpoint, methods=["GET"], include_in_schema=False)

    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory okno.app:app_factory``."""
    return create_app(freeze_heap=True)
