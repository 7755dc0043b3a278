"""What the API's and the UI's login share: the caller's address and the throttle settings."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from okno.auth.service import log_in
from okno.auth.throttle import LoginLimits
from okno.context import AppContext


def client_address(request: Request) -> str:
    """The peer address as uvicorn reports it (behind a proxy: run uvicorn with
    ``--proxy-headers --forwarded-allow-ips`` so it is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


def login_limits(ctx: AppContext) -> LoginLimits:
    s = ctx.settings
    return LoginLimits(
        per_account=s.login_max_failures_per_account, per_ip=s.login_max_failures_per_ip, window=timedelta(minutes=s.login_window_minutes)
    )


async def sign_in(request: Request, ctx: AppContext, *, email: str, password: str) -> str:
    ttl = timedelta(hours=ctx.settings.token_ttl_hours)
    return await log_in(ctx.db, email=email, password=password, ip=client_address(request), ttl=ttl, limits=login_limits(ctx))
