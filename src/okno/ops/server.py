"""``okno worker --port``: the worker's probes and metrics on a small HTTP server of its own."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from okno.ops.probes import healthz, metrics_endpoint, readyz

if TYPE_CHECKING:
    from okno.context import AppContext


def probe_app(ctx: AppContext) -> Starlette:
    app = Starlette(routes=[
        Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_endpoint),
    ])
    app.state.ctx = ctx
    return app


class ProbeServer:
    def __init__(self, ctx: AppContext, host: str, port: int) -> None:
        config = uvicorn.Config(probe_app(ctx), host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # the worker handles SIGTERM itself
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken…)
                return
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
