"""The narrow runtime okno lends to adapters that need more than their config and an HTTP client.

The widget (whose provider is okno itself) stores visitor streams and pushes them to open
sockets; an adapter's own routes look channels up and wake the ingest worker. They get this
object, never the application context: the database, a channel lookup, per-process hubs, a way
to wake workers after they stored something, and the few settings adapters need.

An adapter receives it through ``bind_runtime`` (the directory calls it after building the
adapter); an adapter's routes receive it through the :func:`adapter_runtime` dependency.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

from fastapi import Depends
from sqlalchemy import update
from starlette.requests import HTTPConnection

from okno.kit.fanout import Fanout, LocalFanout
from okno.kit.time import utcnow
from okno.models import ChannelPollState

if TYPE_CHECKING:
    import httpx

    from okno.channels.directory import LiveChannel
    from okno.kit.blobs import BlobStore
    from okno.kit.db import Database

H = TypeVar("H")


@dataclass(frozen=True)
class RuntimeSettings:
    default_region: str
    public_url: str
    trusted_proxies: str = ""  # whose X-Forwarded-For names the visitor's address
    rate_limits: dict[str, int] = field(default_factory=dict)  # the widget's per-minute limits
    shared_limits: bool = False  # count them in the database for every process (several serve processes)


class AdapterRuntime:
    def __init__(self, db: Database, settings: RuntimeSettings) -> None:
        self.db = db
        self.settings = settings
        self._hubs: dict[type, Any] = {}
        self._lookup: Callable[[int], Awaitable[LiveChannel | None]] | None = None
        self._wake: Callable[[Iterable[str]], None] = lambda names: None
        self.http: httpx.AsyncClient | None = None
        # live pushes to clients of every process (a NATS fan-out with OKNO_BUS_URL, else local)
        self.fanout: Fanout = LocalFanout()
        # okno's blob store, where an adapter that keeps files (``Capabilities.keeps_files``) writes them
        self.blobs: BlobStore | None = None

    def connect(
        self, lookup: Callable[[int], Awaitable[LiveChannel | None]], wake: Callable[[Iterable[str]], None], http: httpx.AsyncClient | None = None
    ) -> None:
        """Called once by the application context when its directory and workers exist."""
        self._lookup = lookup
        self._wake = wake
        self.http = http  # the outbound client deliveries use (the widget sends one-time codes through other channels)

    def hub(self, factory: type[H]) -> H:
        """The one instance of ``factory`` in this process (e.g. the widget's socket hub)."""
        if factory not in self._hubs:
            hub = factory()
            attach = getattr(hub, "attach", None)
            if attach is not None:  # a hub that reaches other processes' clients through the fan-out
                attach(self.fanout)
            self._hubs[factory] = hub
        return self._hubs[factory]

    async def channel(self, channel_id: int) -> LiveChannel | None:
        """An enabled channel (adapter + opened config), or None."""
        if self._lookup is None:
            raise RuntimeError("adapter runtime used before it was connected")
        return await self._lookup(channel_id)

    def wake(self, *workers: str) -> None:
        """Wakes workers (e.g. "ingest" after staging raw items) without waiting for their poll."""
        self._wake(workers)

    async def poll_now(self, channel_id: int) -> None:
        """Makes a polling channel's next poll due now and wakes the poll worker (an adapter that
        holds a push connection to its provider, such as IMAP IDLE, calls it when news arrive)."""
        async with self.db.transaction() as session:
            await session.execute(update(ChannelPollState).where(ChannelPollState.channel_id == channel_id).values(next_poll_at=utcnow()))
        self._wake(["polls"])


class UsesRuntime(Protocol):
    def bind_runtime(self, runtime: AdapterRuntime) -> None: ...


def adapter_runtime(conn: HTTPConnection) -> AdapterRuntime:
    """FastAPI dependency for adapters' own routes (HTTP and WebSocket)."""
    return conn.app.state.channel_runtime


Runtime = Annotated[AdapterRuntime, Depends(adapter_runtime)]
