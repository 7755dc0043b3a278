"""What every fake provider shares: a log of what okno sent, scripted failures, and a client to
push provider webhooks at okno exactly as the real provider would (signed, same body shape)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

FailureKind = Literal["rate_limit", "permanent", "server_error", "window_closed"]


@dataclass
class ScriptedFailure:
    kind: FailureKind
    retry_after: float = 1.0


@dataclass
class FakeProviderBase:
    """Subclasses add ``app`` (an ASGI app serving the provider's API) and the ``deliver_*`` calls."""

    sent: list[dict[str, Any]] = field(default_factory=list)  # accepted outbound calls, in order
    calls: list[dict[str, Any]] = field(default_factory=list)  # every outbound call, failed ones too
    failures: list[ScriptedFailure] = field(default_factory=list)
    base_url: str = ""  # where this fake is served (okno's channel config points here)
    _okno: httpx.AsyncClient | None = None
    _webhook_url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    last_delivery: tuple[bytes, dict[str, str], dict[str, str]] | None = None

    def connect(self, okno: httpx.AsyncClient, webhook_url: str) -> None:
        """Where to push webhooks: a client that reaches okno and the channel's webhook URL."""
        self._okno = okno
        self._webhook_url = webhook_url

    def fail_next_send(self, kind: FailureKind, *, times: int = 1, retry_after: float = 1.0) -> None:
        self.failures.extend(ScriptedFailure(kind, retry_after) for _ in range(times))

    def next_failure(self) -> ScriptedFailure | None:
        return self.failures.pop(0) if self.failures else None

    def next_id(self) -> int:
        return next(self._ids)

    async def post_webhook(
        self, body: bytes, headers: dict[str, str], *, query: dict[str, str] | None = None
    ) -> httpx.Response:
        if self._okno is None:
            raise RuntimeError("fake provider is not connected to okno: call connect() first")
        self.last_delivery = (body, headers, query or {})
        return await self._okno.post(self._webhook_url, content=body, headers=headers, params=query)

    async def redeliver_last(self) -> httpx.Response:
        """The provider's at-least-once retry: the very same request again."""
        if self.last_delivery is None:
            raise RuntimeError("nothing delivered yet")
        body, headers, query = self.last_delivery
        return await self.post_webhook(body, headers, query=query)
