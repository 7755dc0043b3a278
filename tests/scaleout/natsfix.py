"""What the scale-out tests share: the NATS server they run against (or the reason they skip)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest

NATS_URL = os.environ.get("OKNO_TEST_NATS_URL", "")
NATS_SERVER = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)


def need_nats() -> str:
    if not NATS_URL:
        pytest.skip("OKNO_TEST_NATS_URL is not set (.ci/run starts nats-server with JetStream and sets it)")
    return NATS_URL


def unique_prefix() -> str:
    return f"t{secrets.token_hex(5)}"


async def drop_streams(url: str, prefix: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for suffix in ("EVENTS", "DEAD"):
            with contextlib.suppress(Exception):
                await js.delete_stream(f"{prefix.upper()}_{suffix}")
    finally:
        await nc.close()


async def poll(read: Callable[[], Awaitable[Any]], until: Callable[[Any], bool], *, timeout: float = 10.0, every: float = 0.05) -> Any:
    value = await read()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until(value) and loop.time() < deadline:
        await asyncio.sleep(every)
        value = await read()
    return value


class OwnNatsServer:
    """A nats-server of the test's own (free port, temporary store): one the test may kill and
    restart without touching the machine's shared server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self.store = tempfile.mkdtemp(prefix="okno-nats-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if NATS_SERVER is None:
            pytest.skip("nats-server is not installed")
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        for _ in range(100):
            try:
                nc = await nats.connect(self.url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False)
                await nc.jetstream().account_info()
                await nc.close()
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise RuntimeError("own nats-server did not come up")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)


@contextlib.asynccontextmanager
async def own_nats(port: int) -> AsyncIterator[OwnNatsServer]:
    server = OwnNatsServer(port)
    server.start()
    try:
        await server.ready()
        yield server
    finally:
        server.remove()
