"""Per-adapter workloads for ``bench/ingest.py``: the exact requests each provider would send.

Each channel kind's fake provider builds and signs its webhook (the same code the contract
tests use); a capturing client records the bytes and headers instead of sending them, so the
benchmark replays the provider's real wire format with its real signature.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

# kind → (fake class path, how a customer's index and phone become that provider's user id)
FAKES: dict[str, tuple[str, Callable[[int, str], str]]] = {
    "telegram": ("okno.channels.adapters.telegram.fake:FakeTelegram", lambda i, _phone: str(700_000_000 + i)),
    "whatsapp": ("okno.channels.adapters.whatsapp.fake:FakeWhatsApp", lambda _i, phone: "7" + phone),
    "vk": ("okno.channels.adapters.vk.fake:FakeVk", lambda i, _phone: str(500_000 + i)),
    "max": ("okno.channels.adapters.max.fake:FakeMax", lambda i, _phone: str(900_000_000 + i)),
    # no inbound SMS: the load is SMS.ru's delivery reports (``deliver_bench_item``)
    "smsru": ("okno.channels.adapters.smsru.fake:FakeSmsRu", lambda i, _phone: str(i)),
    # a call from the customer's phone: each text becomes the NOTIFY_START of a new call
    "novofon": ("okno.channels.adapters.novofon.fake:FakeNovofon", lambda _i, phone: "7" + phone),
}


class _Capture:
    """Stands in for okno: records what the fake would POST."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str], str]] = []  # body, headers, query string

    async def post(self, _url: str, *, content: bytes, headers: dict[str, str], params: Any = None) -> httpx.Response:
        self.requests.append((content, headers, urlencode(params or {})))
        return httpx.Response(200)


@dataclass(frozen=True)
class AdapterLoad:
    kind: str
    config: dict[str, Any]
    requests: list[tuple[bytes, dict[str, str], str]]


def available_kinds() -> list[str]:
    return [kind for kind in FAKES if _fake_class(kind) is not None]


def _fake_class(kind: str) -> type | None:
    module, _, name = FAKES[kind][0].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


async def build_load(kind: str, senders: list[tuple[int, str]], texts: list[str]) -> AdapterLoad:
    """One request per text; ``senders`` (customer index, ten phone digits) are cycled through."""
    fake_cls = _fake_class(kind)
    if fake_cls is None:
        raise ValueError(f"no fake provider for {kind}")
    user_of = FAKES[kind][1]
    fake = fake_cls()
    # never called (inbound only); a name that resolves nowhere, so the outbound URL policy, which
    # refuses loopback addresses when a channel is saved, lets the setting through
    fake.base_url = "http://fake-provider.invalid"
    capture = _Capture()
    fake.connect(capture, "/webhooks/0")

    for i, text in enumerate(texts):
        index, phone = senders[i % len(senders)]
        # a kind that brings no messages offers the request it does bring (SMS.ru: a report)
        deliver = getattr(fake, "deliver_bench_item", None) or fake.deliver_text
        await deliver(user_of(index, phone), text)
    return AdapterLoad(kind=kind, config=fake.channel_config(), requests=capture.requests)
