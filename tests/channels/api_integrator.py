"""The API channel's other side for the contract suite: a CRM that pushes signed messages into
okno's webhook and receives okno's signed replies (``FakeApiReceiver``, the adapter's own fake)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign
from okno.channels.fakes.base import FailureKind, FakeProviderBase

BOX = "crm"
SECRET = "contract-api-secret-0123456789"

# What the receiver answers for each scripted failure: the statuses a CRM really returns.
_FAILURE_STATUS: dict[str, int] = {"rate_limit": 429, "permanent": 422, "window_closed": 403, "server_error": 503}


@dataclass
class FakeApiIntegrator(FakeProviderBase):
    secret: str = SECRET
    receiver: FakeApiReceiver = field(default_factory=FakeApiReceiver)
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.receiver.add_box(BOX, self.secret)
        self.app = self.receiver.app

    def channel_config(self) -> dict[str, Any]:
        return {"secret": self.secret, "outbound_url": f"{self.base_url}/boxes/{BOX}/messages"}

    async def deliver_payload(self, payload: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        body = orjson.dumps(payload)
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self.secret if secret is None else secret, body)}
        return await self.post_webhook(body, headers)

    def _message(self, user: str, text: str, name: str) -> dict[str, Any]:
        return {"message_id": f"crm-msg-{next(self._message_ids)}", "from": {"phone": user, "name": name}, "text": text}

    async def deliver_text(self, user: str, text: str, *, name: str = "Иван Петров") -> httpx.Response:
        return await self.deliver_payload(self._message(user, text, name))

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        return await self.deliver_payload(self._message(user, text, "Mallory"), secret="not-the-channel-secret")

    def fail_next_send(self, kind: FailureKind, *, times: int = 1, retry_after: float = 1.0) -> None:
        status = _FAILURE_STATUS[kind]
        self.receiver.fail_next(BOX, times, status, retry_after if kind == "rate_limit" else None)

    def sent_texts(self) -> list[str]:
        return [delivery["body"]["text"] for delivery in self.receiver.boxes[BOX].deliveries.values()]
